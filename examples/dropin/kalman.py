"""A Kalman filter tracking a 1-D constant-velocity target, and its log-likelihood.

Plain NumPy: predict ``x = F x``, ``P = F P F^T + Q``; update with the innovation
``y = z - H x``, ``S = H P H^T + R`` and the gain ``K = P H^T S^-1`` (``np.linalg.inv``), the
covariance in Joseph form; the Gaussian log-likelihood of the innovations accumulates with
``np.linalg.slogdet`` and a quadratic form.  Its derivative with respect to the log of the
measurement noise is checked against centred finite differences.

    python examples/dropin/kalman.py
"""
import numpy as np

DT = 0.1


def model(log_q, log_r):
    F = np.array([[1.0, DT], [0.0, 1.0]])
    H = np.array([[1.0, 0.0]])
    G = np.array([[0.5 * DT ** 2], [DT]])
    Q = np.exp(log_q) * (G @ G.T)
    R = np.exp(log_r) * np.eye(1)
    return F, H, Q, R


def simulate(T=50, q=0.5, r=0.2, seed=0):
    rng = np.random.default_rng(seed)
    F, H, Q, R = model(np.log(q), np.log(r))
    x = np.array([0.0, 1.0])
    truth, zs = [], []
    for _ in range(T):
        x = F @ x + rng.multivariate_normal(np.zeros(2), Q)
        truth.append(x)
        zs.append(H @ x + np.sqrt(r) * rng.standard_normal(1))
    return np.array(truth), np.array(zs)


def kalman_filter(zs, log_q, log_r):
    F, H, Q, R = model(log_q, log_r)
    x = np.zeros(2)
    P = np.eye(2) * 10.0
    I = np.eye(2)
    means, loglik = [], 0.0
    for z in zs:
        x = F @ x
        P = F @ P @ F.T + Q
        y = z - H @ x
        S = H @ P @ H.T + R
        K = P @ H.T @ np.linalg.inv(S)
        x = x + K @ y
        A = I - K @ H
        P = A @ P @ A.T + K @ R @ K.T
        sign, logdet = np.linalg.slogdet(2 * np.pi * S)
        loglik = loglik - 0.5 * (logdet + y @ np.linalg.solve(S, y))
        means.append(x)
    return np.array(means), loglik


def neg_loglik(log_r, zs, log_q=np.log(0.5)):
    return -kalman_filter(zs, log_q, log_r)[1]


def neg_loglik_fd(log_r, zs, h=1e-6):
    return (neg_loglik(log_r + h, zs) - neg_loglik(log_r - h, zs)) / (2 * h)


def fit_noise(zs, steps=25, lr=0.02):
    log_r = np.log(1.0)
    for _ in range(steps):
        log_r = log_r - lr * neg_loglik_fd(log_r, zs)
    return log_r


def main():
    truth, zs = simulate()
    means, loglik = kalman_filter(zs, np.log(0.5), np.log(0.2))
    rmse_filter = np.sqrt(np.mean((means[:, 0] - truth[:, 0]) ** 2))
    rmse_raw = np.sqrt(np.mean((zs[:, 0] - truth[:, 0]) ** 2))
    print(f"log-likelihood {float(loglik):.6f}")
    print(f"position RMSE: measurements {rmse_raw:.6f}, filter {rmse_filter:.6f}")
    print(f"final state estimate {np.round(means[-1], 5)}, truth {np.round(truth[-1], 5)}")
    print(f"fitted measurement noise variance {float(np.exp(fit_noise(zs))):.6f} (true 0.2)")


if __name__ == "__main__":
    main()
