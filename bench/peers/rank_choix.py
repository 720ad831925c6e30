"""choix side of bench/rank_vs_choix.sh: the same pairs file, penalised fit with the same
objective (decisive comparisons twice, a tie as one win each way, alpha doubled) by
opt_pairwise, and the plain ML estimate by ilsr_pairwise. Prints timings and scores."""
import json, sys, time
import choix

path, alpha = sys.argv[1], float(sys.argv[2])
pairs = [l.split() for l in open(path) if l.strip()]
n = 1 + max(max(int(a), int(b)) for a, b, _ in pairs)
data = []
for a, b, w in pairs:
    a, b = int(a), int(b)
    data += [(a, b), (a, b)] if w == "a" else [(b, a), (b, a)] if w == "b" else [(a, b), (b, a)]
t = time.perf_counter()
opt = choix.opt_pairwise(n, data, alpha=2 * alpha, method="Newton-CG", tol=1e-12)
t_opt = time.perf_counter() - t
t = time.perf_counter()
ilsr = choix.ilsr_pairwise(n, data, alpha=0.0, max_iter=10000, tol=1e-13)
t_ilsr = time.perf_counter() - t
print(json.dumps({"opt_ms": t_opt * 1e3, "ilsr_ms": t_ilsr * 1e3,
                  "opt": list(opt - opt.mean()), "ilsr": list(ilsr - ilsr.mean())}))
