#!/usr/bin/env python3
"""Derives the golden single steps of the classic-control tests.

The published equations (docs/environments.md, section 8) are
evaluated in 50-digit real arithmetic with mpmath, independently of the Go
code: no float64 rounding anywhere except where the environment itself
rounds (MountainCarContinuous stores float32). The Go results must agree to
about 1e-12. Run: python3 golden.py (needs mpmath).
"""
import struct

from mpmath import mp, mpf, cos, sin, pi

mp.dps = 50


def f32(x):
    return mpf(struct.unpack("f", struct.pack("f", float(x)))[0])


def pendulum(th, thdot, u, g=10):
    th, thdot, u = mpf(th), mpf(thdot), max(min(mpf(u), 2), -2)
    an = ((th + pi) % (2 * pi)) - pi  # mpmath % is floored, like NumPy
    cost = an**2 + mpf("0.1") * thdot**2 + mpf("0.001") * u**2
    nd = thdot + (3 * mpf(g) / 2 * sin(th) + 3 * u) * mpf("0.05")
    nd = max(min(nd, 8), -8)
    return th + nd * mpf("0.05"), nd, -cost


def cartpole(s, action, semi=False):
    x, xd, th, thd = map(mpf, s)
    F = 10 if action == 1 else -10
    g, mc, mp_, l, tau = mpf("9.8"), 1, mpf("0.1"), mpf("0.5"), mpf("0.02")
    tm, pml = mc + mp_, mp_ * l
    temp = (F + pml * thd**2 * sin(th)) / tm
    thacc = (g * sin(th) - cos(th) * temp) / (l * (mpf(4) / 3 - mp_ * cos(th) ** 2 / tm))
    xacc = temp - pml * thacc * cos(th) / tm
    if not semi:
        return x + tau * xd, xd + tau * xacc, th + tau * thd, thd + tau * thacc
    xd = xd + tau * xacc
    thd = thd + tau * thacc
    return x + tau * xd, xd, th + tau * thd, thd


def mountaincar(x, v, a):
    x, v, a = mpf(x), mpf(v), mpf(a)
    F = max(min(a, 1), -1)
    v = v + F * mpf("0.0015") - mpf("0.0025") * cos(3 * x)
    v = max(min(v, mpf("0.07")), mpf("-0.07"))
    x = max(min(x + v, mpf("0.6")), mpf("-1.2"))
    if x == mpf("-1.2") and v < 0:
        v = mpf(0)
    done = x >= mpf("0.45") and v >= 0
    r = (100 if done else 0) - mpf("0.1") * a**2
    return x, v, f32(x), f32(v), r, done


def acrobot_dsdt(s, a):
    t1, t2, dt1, dt2 = s
    m1 = m2 = l1 = I1 = I2 = mpf(1)
    lc1 = lc2 = mpf("0.5")
    g = mpf("9.8")
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * cos(t2)) + I1 + I2
    d2 = m2 * (lc2**2 + l1 * lc2 * cos(t2)) + I2
    phi2 = m2 * lc2 * g * cos(t1 + t2 - pi / 2)
    phi1 = (-m2 * l1 * lc2 * dt2**2 * sin(t2) - 2 * m2 * l1 * lc2 * dt2 * dt1 * sin(t2)
            + (m1 * lc1 + m2 * l1) * g * cos(t1 - pi / 2) + phi2)
    ddt2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * dt1**2 * sin(t2) - phi2) / (m2 * lc2**2 + I2 - d2**2 / d1)
    ddt1 = -(d2 * ddt2 + phi1) / d1
    return [dt1, dt2, ddt1, ddt2]


def acrobot(s, action):
    a = [mpf(-1), mpf(0), mpf(1)][action]
    y0 = [mpf(v) for v in s]
    h = mpf("0.2")
    k1 = acrobot_dsdt(y0, a)
    k2 = acrobot_dsdt([y + h / 2 * k for y, k in zip(y0, k1)], a)
    k3 = acrobot_dsdt([y + h / 2 * k for y, k in zip(y0, k2)], a)
    k4 = acrobot_dsdt([y + h * k for y, k in zip(y0, k3)], a)
    raw = [y + h / 6 * (p + 2 * q + 2 * r + w) for y, p, q, r, w in zip(y0, k1, k2, k3, k4)]
    ns = list(raw)
    for i in (0, 1):
        while ns[i] > pi:
            ns[i] -= 2 * pi
        while ns[i] < -pi:
            ns[i] += 2 * pi
    ns[2] = max(min(ns[2], 4 * pi), -4 * pi)
    ns[3] = max(min(ns[3], 9 * pi), -9 * pi)
    done = -cos(ns[0]) - cos(ns[1] + ns[0]) > 1
    return raw, ns, done


def show(name, *vals):
    print(name, " ".join(mp.nstr(v, 20) if not isinstance(v, bool) else str(v) for v in vals))


if __name__ == "__main__":
    show("pend 0,0,u=2       ", *pendulum(0, 0, 2))
    show("pend pi/2,7.5,u=1  ", *pendulum(pi / 2, 7.5, 1))
    show("pend -pi/2,-7.5,u=-1", *pendulum(-pi / 2, -7.5, -1))
    show("pend 5,0,u=0       ", *pendulum(5, 0, 0))
    show("pend -5,0,u=0      ", *pendulum(-5, 0, 0))
    show("pend 2pi+.5,0,0    ", *pendulum(2 * pi + mpf("0.5"), 0, 0))
    show("pend pi/2,0,0 g9.81", *pendulum(pi / 2, 0, 0, g=mpf("9.81")))
    show("cart (.1,.2,.1,.5) a0 euler", *cartpole((0.1, 0.2, 0.1, 0.5), 0))
    show("cart (.1,.2,.1,.5) a0 semi ", *cartpole((0.1, 0.2, 0.1, 0.5), 0, semi=True))
    show("mc -0.5,0,a=1      ", *mountaincar(-0.5, 0, 1))
    show("mc -0.5,0,a=3      ", *mountaincar(-0.5, 0, 3))
    show("mc -1.19,-0.05,a=0 ", *mountaincar(-1.19, -0.05, 0))
    show("mc -1.15,-0.03,a=0 ", *mountaincar(-1.15, -0.03, 0))
    show("mc -0.5,0.0699,a=1 ", *mountaincar(-0.5, 0.0699, 1))
    show("mc 0.44,0.02,a=0.5 ", *mountaincar(0.44, 0.02, 0.5))
    show("mc 0.5,-0.001,a=0  ", *mountaincar(0.5, -0.001, 0))
    for s, a in [((0.1, -0.2, 0.3, -0.4), 2), ((3.0, 0.0, 10.0, 0.0), 1),
                 ((-3.0, 0.5, -10.0, 0.0), 0), ((0.0, 0.0, 12.5, 28.0), 2),
                 ((2.5, 0.0, 0.0, 0.0), 1), ((0.0, 3.0, 0.0, 25.0), 2)]:
        raw, ns, done = acrobot(s, a)
        show("acro %s a%d raw" % (s, a), *raw)
        show("acro %s a%d ns " % (s, a), *ns, done)
