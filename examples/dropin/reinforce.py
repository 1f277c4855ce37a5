"""REINFORCE (vanilla policy gradient) on a tiny hand-written corridor world.

Plain NumPy: a softmax policy over a one-hot state, actions drawn with
``np.random.choice(n, p=probs)``, discounted returns by a reversed loop and, for the
baseline, by ``np.cumsum`` over a reversed array; the policy-gradient step uses the
hand-written score function ``(onehot(a) - pi(s)) outer x(s)``.

    python examples/dropin/reinforce.py
"""
import numpy as np

N_STATES, N_ACTIONS, GOAL = 6, 2, 5


def step(state, action):
    """Corridor: action 1 moves right, 0 left; reaching the right end pays 1, each step -0.01."""
    nxt = min(state + 1, GOAL) if action == 1 else max(state - 1, 0)
    done = nxt == GOAL
    return nxt, (1.0 if done else -0.01), done


def features(state):
    x = np.zeros(N_STATES)
    x[state] = 1.0
    return x


def policy(theta, state):
    z = theta @ features(state)
    z = z - np.max(z)
    e = np.exp(z)
    return e / e.sum()


def run_episode(theta, max_steps=30):
    states, actions, rewards = [], [], []
    s = 0
    for _ in range(max_steps):
        a = np.random.choice(N_ACTIONS, p=policy(theta, s))
        s2, r, done = step(s, a)
        states.append(s)
        actions.append(a)
        rewards.append(r)
        s = s2
        if done:
            break
    return np.array(states), np.array(actions), np.array(rewards)


def discounted_returns(rewards, gamma):
    G = np.zeros_like(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        G[t] = running
    return G


def surrogate(theta, states, actions, returns):
    """-sum_t G_t log pi(a_t | s_t): its gradient is the REINFORCE estimate."""
    total = 0.0
    for s, a, g in zip(states, actions, returns):
        total = total - g * np.log(policy(theta, s)[a])
    return total


def surrogate_grad(theta, states, actions, returns):
    grad = np.zeros_like(theta)
    for s, a, g in zip(states, actions, returns):
        p = policy(theta, s)
        onehot = np.eye(N_ACTIONS)[a]
        grad -= g * np.outer(onehot - p, features(s))
    return grad


def train(episodes=60, lr=0.1, gamma=0.95, seed=0):
    np.random.seed(seed)
    theta = np.zeros((N_ACTIONS, N_STATES))
    lengths = []
    for _ in range(episodes):
        states, actions, rewards = run_episode(theta)
        G = discounted_returns(rewards, gamma)
        undiscounted = np.cumsum(rewards[::-1])[::-1]   # reward-to-go, for the baseline
        baseline = undiscounted.mean()
        theta -= lr * surrogate_grad(theta, states, actions, G - 0.1 * baseline)
        lengths.append(len(rewards))
    return theta, lengths


def main():
    theta, lengths = train()
    print("episode lengths (first 10):", lengths[:10])
    print("episode lengths (last 10): ", lengths[-10:])
    probs = np.array([policy(theta, s) for s in range(N_STATES)])
    print("P(right) per state:", np.round(probs[:, 1], 4))


if __name__ == "__main__":
    main()
