"""The bench/oci driver: RUNS rounds of create -> start -> wait -> delete per runtime, interleaved.

Usage: oci-driver.py RUNS BUNDLE STATE_DIR NAME=COMMAND...
The driver is a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER), so each container's init,
orphaned when `create` returns, becomes its child and is waited for here, as containerd's shim
waits for it. Prints min and median per runtime, the ratios to runc and crun, and Node's start-up
(which tsdock-runtime's cycle no longer pays: create is native for this bundle), each as wall-clock time and as CPU time (user + system of every process the cycle ran, the
container included: a busy machine stretches the first, hardly the second).
"""
import ctypes, os, resource, shlex, statistics, subprocess, sys, time

PR_SET_CHILD_SUBREAPER = 36


def run(argv):
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def cpu_ms():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000


def cycle(cmd, root, bundle, cid):
    """(wall ms, cpu ms) of one create -> start -> wait -> delete."""
    pid_file = os.path.join(root, cid + ".pid")
    cpu, start = cpu_ms(), time.perf_counter()
    run(cmd + ["--root", root, "create", "--bundle", bundle, "--pid-file", pid_file, cid])
    pid = int(open(pid_file).read())
    run(cmd + ["--root", root, "start", cid])
    os.waitpid(pid, 0)
    run(cmd + ["--root", root, "delete", cid])
    return (time.perf_counter() - start) * 1000, cpu_ms() - cpu


def timed(argv, runs):
    times = []
    for _ in range(runs):
        cpu, start = cpu_ms(), time.perf_counter()
        run(argv)
        times.append(((time.perf_counter() - start) * 1000, cpu_ms() - cpu))
    return times


def main():
    runs, bundle, state = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    runtimes = dict(arg.split("=", 1) for arg in sys.argv[4:])
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
    rows = {name: [] for name in runtimes}
    for i in range(runs + 2):  # two warm-up rounds, not counted
        for name, command in runtimes.items():
            root = os.path.join(state, name)
            os.makedirs(root, exist_ok=True)
            sample = cycle(shlex.split(command), root, bundle, "bench-%d" % i)
            if i >= 2:
                rows[name].append(sample)
    rows["node -e ''"] = timed(["node", "-e", ""], runs)
    rows["tsdock-runtime --version"] = timed(shlex.split(runtimes["tsdock-runtime"]) + ["--version"], runs)
    print("%-26s %9s %12s %12s" % ("create+start+wait+delete", "wall min", "wall median", "cpu median"))
    med = {}
    for name, samples in rows.items():
        wall, cpu = [s[0] for s in samples], [s[1] for s in samples]
        med[name] = (statistics.median(wall), statistics.median(cpu))
        print("%-26s %9.1f %12.1f %12.1f" % (name, min(wall), med[name][0], med[name][1]))
    print()
    for other, target in (("runc", "< 1.0"), ("crun", "<= 2.0")):
        wall, cpu = (med["tsdock-runtime"][k] / med[other][k] for k in (0, 1))
        print("tsdock-runtime / %s (target %s): wall %5.2f, cpu %5.2f" % (other, target, wall, cpu))
    node_wall, node_cpu = med["node -e ''"]
    # The native front end serves create, start and delete of this bundle: no call starts Node.
    print("Node's start-up, not paid by the cycle:   wall %5.1f ms, cpu %5.1f ms" % (node_wall, node_cpu))


main()
