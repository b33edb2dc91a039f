"""The spec against central finite differences, in float64."""
import numpy as np
import pytest

from gatedrnn import spec
from gatedrnn.demo import finite_difference_errors, make_problem
from gatedrnn.gradcheck import numerical_gradient, relative_error

FD_LIMIT = 1e-6


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 1, 3, 2), (3, 4, 2, 3)])
def test_time_lstm_gradients_match_finite_differences(shape):
    # L = sum(hs * dhs) + sum(c_T * dc_T) uses every output, from non-zero h0, c0.
    p = make_problem(*shape, np.float64, seed=sum(shape))
    errors = finite_difference_errors(spec.TimeLSTM, p)
    for name, err in errors.items():
        assert err <= FD_LIMIT, f"{name}: relative error {err:.2e}"


def test_time_lstm_gradients_with_saturated_gates():
    p = make_problem(2, 3, 4, 3, np.float64, seed=7, weight_scale=4.0)
    errors = finite_difference_errors(spec.TimeLSTM, p)
    for name, err in errors.items():
        assert err <= FD_LIMIT, f"{name}: relative error {err:.2e}"


def test_stateful_second_call_gradients():
    """The second call of a stateful layer starts from the first call's state;
    its gradients (truncated there, as in the book) match finite differences
    taken with that carried state held fixed."""
    p = make_problem(2, 3, 4, 5, np.float64, seed=3)
    rng = np.random.default_rng(4)
    xs2, dhs2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 5))

    layer = spec.TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    layer.set_state(p["h0"], p["c0"])
    layer.forward(p["xs"])
    h1, c1 = layer.h.copy(), layer.c.copy()
    layer.forward(xs2)
    dxs2 = layer.backward(dhs2)
    analytic = dict(Wx=layer.grads[0].copy(), Wh=layer.grads[1].copy(), b=layer.grads[2].copy(),
                    xs2=dxs2, h1=layer.dh)

    def loss():
        fresh = spec.TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
        fresh.set_state(h1, c1)
        return float(np.sum(fresh.forward(xs2) * dhs2))

    values = dict(Wx=p["Wx"], Wh=p["Wh"], b=p["b"], xs2=xs2, h1=h1)
    for name, x in values.items():
        err = relative_error(analytic[name], numerical_gradient(loss, x))
        assert err <= FD_LIMIT, f"d{name}: relative error {err:.2e}"


def test_lstm_cell_gradients_match_finite_differences():
    rng = np.random.default_rng(11)
    N, D, H = 3, 4, 2
    Wx, Wh, b = rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)), rng.standard_normal(4 * H)
    x, h, c = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dh_next, dc_next = rng.standard_normal((N, H)), rng.standard_normal((N, H))

    cell = spec.LSTM(Wx, Wh, b)
    cell.forward(x, h, c)
    dx, dh, dc = cell.backward(dh_next, dc_next)
    analytic = dict(Wx=cell.grads[0].copy(), Wh=cell.grads[1].copy(), b=cell.grads[2].copy(),
                    x=dx, h=dh, c=dc)

    def loss():
        h_next, c_next = spec.LSTM(Wx, Wh, b).forward(x, h, c)
        return float(np.sum(h_next * dh_next) + np.sum(c_next * dc_next))

    for name, value in dict(Wx=Wx, Wh=Wh, b=b, x=x, h=h, c=c).items():
        err = relative_error(analytic[name], numerical_gradient(loss, value))
        assert err <= FD_LIMIT, f"d{name}: relative error {err:.2e}"


def test_sigmoid_is_stable_and_exact():
    x = np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = spec.sigmoid(x)
    expected = np.array([0.0, 1.9287498479639178e-22, 0.2689414213699951, 0.5,
                         0.7310585786300049, 1.0, 1.0])
    np.testing.assert_allclose(y, expected, rtol=1e-15, atol=0)


def test_finite_difference_check_detects_a_wrong_gradient():
    """The check itself can fail: a deliberately wrong backward is caught."""
    class WrongTimeLSTM(spec.TimeLSTM):
        def backward(self, dhs, dh_next=None, dc_next=None):
            dxs = super().backward(dhs, dh_next, dc_next)
            self.grads[1][...] *= 1.001
            return dxs

    p = make_problem(2, 3, 4, 5, np.float64, seed=5)
    errors = finite_difference_errors(WrongTimeLSTM, p)
    assert errors["dWh"] > 1e-4
    assert errors["dWx"] <= FD_LIMIT
