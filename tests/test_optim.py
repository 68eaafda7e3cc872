import numpy as np
import pytest

from gradcode.optim import (
    GD,
    OPTIMIZERS,
    SCHEDULES,
    Adam,
    Constant,
    Cosine,
    InverseTime,
    Momentum,
    Nesterov,
    OptState,
    StepDecay,
    learning_rate,
    make_optimizer,
    make_schedule,
)


def _run(opt, grad, theta, steps):
    state = opt.init(theta)
    for _ in range(steps):
        theta, state = opt.step(theta, grad(theta), state)
    return theta, state


def test_gd_hand_computed():
    theta, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    opt = make_optimizer("gd", lr=0.1)
    new, state = opt.step(theta, g, opt.init(theta))
    np.testing.assert_allclose(new, [0.95, 2.1])
    assert state == OptState(1) and theta.tolist() == [1.0, 2.0]  # input untouched


def test_nesterov_hand_computed():
    # f(x) = x^2 / 2, g(x) = x, lr = 0.1, theta_1 = 1; mu_t = (t-1)/(t+2) = 0, 1/4, 2/5.
    thetas = [np.array([1.0])]
    opt = Nesterov(lr=0.1)
    state = opt.init(thetas[0])
    for _ in range(3):
        theta, state = opt.step(thetas[-1], thetas[-1], state)
        thetas.append(theta)
    # y2 = .9, th2 = .9; y3 = .81, th3 = .81 + (.81-.9)/4; y4 = .9 * th3, th4 = y4 + .4 (y4 - y3)
    th3 = 0.81 - 0.0225
    y4 = 0.9 * th3
    np.testing.assert_allclose(np.concatenate(thetas), [1.0, 0.9, th3, y4 + 0.4 * (y4 - 0.81)])
    assert state.step == 3
    np.testing.assert_allclose(state.bufs[0], [y4])


def test_nesterov_fixed_momentum_and_momentum_hand_computed():
    opt = Nesterov(lr=0.5, momentum=0.5)
    g = np.array([1.0])
    th1, s = opt.step(np.zeros(1), g, opt.init(np.zeros(1)))  # y = -.5, th = -.5 + .5 * (-.5 - 0)
    th2, _ = opt.step(th1, g, s)  # y = -1.25, th = -1.25 + .5 * (-1.25 + .5)
    np.testing.assert_allclose([th1[0], th2[0]], [-0.75, -1.625])

    hb = Momentum(lr=0.1, beta=0.5)
    th, s = hb.step(np.zeros(1), g, hb.init(np.zeros(1)))  # v = 1
    th, s = hb.step(th, g, s)  # v = 1.5
    np.testing.assert_allclose([th[0], s.bufs[0][0]], [-0.25, 1.5])


def test_adam_first_step_is_lr_times_sign():
    opt = Adam(lr=0.01)
    th, _ = opt.step(np.zeros(3), np.array([3.0, -0.2, 1e-3]), opt.init(np.zeros(3)))
    np.testing.assert_allclose(th, [-0.01, 0.01, -0.01], rtol=1e-4)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_converges_on_ill_conditioned_quadratic(name):
    A = np.diag([1.0, 10.0, 50.0])
    b = np.array([1.0, -2.0, 3.0])
    x_star = np.linalg.solve(A, b)
    lr = {"adam": 0.05, "momentum": 0.5 / 50}.get(name, 1.0 / 50)
    theta, _ = _run(make_optimizer(name, lr=lr), lambda x: A @ x - b, np.zeros(3), 2000)
    np.testing.assert_allclose(theta, x_star, atol=1e-5)


def test_nesterov_beats_gd_on_ill_conditioned_quadratic():
    A = np.diag(np.linspace(0.01, 1.0, 20))
    b = np.ones(20)
    x_star = np.linalg.solve(A, b)
    errors = {}
    for name in ("gd", "nesterov"):
        theta, _ = _run(make_optimizer(name, lr=1.0), lambda x: A @ x - b, np.zeros(20), 150)
        errors[name] = np.linalg.norm(theta - x_star)
    assert errors["nesterov"] < 0.1 * errors["gd"]


def test_step_is_deterministic_and_pure():
    opt = make_optimizer("momentum", lr=0.1)
    theta, g = np.array([1.0, -1.0]), np.array([0.3, 0.2])
    s0 = opt.init(theta)
    a, sa = opt.step(theta, g, s0)
    b, sb = opt.step(theta, g, s0)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sa.bufs[0], sb.bufs[0])
    assert not s0.bufs[0].any()


def test_schedules():
    assert Constant(0.3)(1000) == 0.3
    assert InverseTime(1.0, decay=0.5)(2) == pytest.approx(0.5)
    assert [StepDecay(1.0, every=10, drop=0.5)(t) for t in (0, 9, 10, 25)] == [1, 1, 0.5, 0.25]
    cos = Cosine(1.0, total=10, lr_min=0.1)
    assert [cos(t) for t in (0, 5, 10, 50)] == pytest.approx([1.0, 0.55, 0.1, 0.1])
    assert make_schedule("inverse-time", lr0=2.0, decay=1.0)(1) == 1.0
    assert set(SCHEDULES) == {"constant", "inverse-time", "step", "cosine"}


def test_schedule_drives_the_step_size():
    opt = GD(lr=InverseTime(1.0, decay=1.0))  # lr_t = 1 / (1 + t)
    theta, state = np.zeros(1), opt.init(np.zeros(1))
    for _ in range(3):
        theta, state = opt.step(theta, np.ones(1), state)
    np.testing.assert_allclose(theta, [-(1 + 1 / 2 + 1 / 3)])
    theta, _ = GD(lr=lambda t: 0.5**t).step(np.zeros(1), np.ones(1), OptState(2))
    np.testing.assert_allclose(theta, [-0.25])


def test_optimizer_errors():
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got lr=-0.1"):
        GD(lr=-0.1)
    with pytest.raises(
        ValueError, match="unknown optimizer 'sgd'; valid optimizers: adam, gd, mom"
    ):
        make_optimizer("sgd", lr=0.1)
    with pytest.raises(
        ValueError, match="unknown parameter.* beta .*valid parameters: lr, momentum"
    ):
        make_optimizer("nesterov", lr=0.1, beta=0.9)
    with pytest.raises(ValueError, match=r"beta must satisfy 0 <= beta < 1, got beta=1.0"):
        Momentum(lr=0.1, beta=1.0)
    with pytest.raises(ValueError, match="momentum must be None or satisfy"):
        Nesterov(lr=0.1, momentum=-0.1)
    with pytest.raises(
        ValueError, match=r"learning rate must be finite and > 0, got lr=0.0 at step"
    ):
        learning_rate(Cosine(1.0, total=3), 3)
    with pytest.raises(ValueError, match="drop must satisfy"):
        StepDecay(1.0, drop=2.0)
    with pytest.raises(
        ValueError, match="unknown schedule 'exp'; valid schedules: constant, cosine"
    ):
        make_schedule("exp", lr0=1.0)
