"""The benchmark table (run by benches/cache_hit.sh, which builds, starts the fake and fills the caches).

Times whole processes started with posix_spawn (stdout to /dev/null) and waited for; peak RSS comes
from GNU `time -f %M` (the rusage of a child spawned from Python would include Python's own pages).
Hit commands run interleaved in a shuffled order each round, so a busy neighbour slows all alike.
"""

import datetime
import glob
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time

BIN, ROUNDS, BASELINE = sys.argv[1], int(sys.argv[2]), (sys.argv[3] if len(sys.argv) > 3 else "") or None
BOTO_RUNS = int(os.environ.get("BOTO_RUNS", "20"))
REFRESH_RUNS = int(os.environ.get("REFRESH_RUNS", "30"))
LOCAL_RUNS = int(os.environ.get("LOCAL_RUNS", "5"))
HOME = os.environ["HOME"]
AWS = os.path.join(HOME, ".aws")
SIZES = (3, 1000, 5000, 20000)
ROLES = ("Admin", "Developer", "ReadOnly", "PowerUser")
DEVNULL = os.open(os.devnull, os.O_RDWR)


def generated(count):
    """`count` profiles as `configure generate --write` appends them, without its comment lines:
    about 145 bytes a profile, near the issue's measurements (2.7 MB at 20,000 profiles)."""
    blocks = []
    for i in range(count):
        account = f"{100000000000 + i // len(ROLES):012d}"
        role = ROLES[i % len(ROLES)]
        blocks.append(
            f"[profile a{i // len(ROLES):05d}.{role}]\n"
            f"credential_process = aws-sso-process --sso-session corp --account-id {account} --role-name {role}\n"
            f"region = us-east-1\n"
        )
    return "\n".join(blocks)


# A profile that assumes a role from dev-sso (docs/chained-roles.md); its entry is seeded by
# seed_chained_entry, as the bench has no STS: a hit must not need one.
CHAINED_ARN = "arn:aws:iam::444455556666:role/Deployer"
CHAINED = f"\n[profile deploy]\nrole_arn = {CHAINED_ARN}\nsource_profile = dev-sso\nrole_session_name = bench\n"


def seed_chained_entry():
    """The assumed-role entry of [profile deploy] under botocore's key, valid for a day."""
    import hashlib
    key = hashlib.sha1(json.dumps({"RoleArn": CHAINED_ARN, "RoleSessionName": "bench"}, sort_keys=True)
                       .encode()).hexdigest()
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    doc = {"Credentials": {"AccessKeyId": "ASIABENCH", "SecretAccessKey": "bench", "SessionToken": "bench",
                           "Expiration": later.strftime("%Y-%m-%dT%H:%M:%SUTC"), "AccountId": "444455556666"},
           "AssumedRoleUser": {"AssumedRoleId": "AROA:bench", "Arn": "arn:aws:sts::444455556666:assumed-role/Deployer/bench"}}
    with open(os.path.join(AWS, "cli", "cache", key + ".json"), "w") as f:
        json.dump(doc, f)


def write_configs():
    seed = open(os.path.join(AWS, "config")).read() + CHAINED  # profiles dev, dev-sso, deploy; sso-session corp
    paths = {}
    for n in SIZES:
        path = os.path.join(HOME, f"config-{n}")
        with open(path, "w") as f:
            f.write(seed + "\n" + generated(n - 2))
        paths[n] = path
    return paths


def run_once(argv, env, stdin=None):
    """Wall time (ms) of one process; fails loudly on a non-zero exit."""
    actions = [(os.POSIX_SPAWN_DUP2, DEVNULL, 1), (os.POSIX_SPAWN_DUP2, DEVNULL, 0)]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    elapsed = (time.perf_counter() - start) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {argv} exited {os.waitstatus_to_exitcode(status)}")
    return elapsed


def peak_rss(argv, env, runs=5):
    """Median peak RSS (MB) by GNU time, or nan without it."""
    if not os.path.exists("/usr/bin/time"):
        return float("nan")
    values = []
    for _ in range(runs):
        out = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, check=True).stderr
        values.append(int(out.strip().splitlines()[-1]) / 1024)
    return statistics.median(values)


def summary(times):
    ordered = sorted(times)
    return statistics.median(ordered), ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, load {load:.1f} at start"


def binaries():
    out = [("ours", BIN)]
    if BASELINE:
        out.append(("baseline", BASELINE))
    return out


def hits(configs, role_file):
    env0 = dict(os.environ)
    cat = shutil.which("cat")
    commands = {
        ("floor", "/bin/true"): (["/bin/true"], env0),
        ("floor", "cat"): ([cat, configs[3], role_file], env0),
        # Reading the big configs at all: an exact answer has to (an error on any line is the answer).
        ("floor", "cat 5000"): ([cat, configs[5000], role_file], env0),
        ("floor", "cat 20000"): ([cat, configs[20000], role_file], env0),
    }
    envs = {}
    for label, path in binaries():
        # Each binary keeps its config index apart ($XDG_CACHE_HOME/aws-sso-process): a baseline
        # whose index format differs would otherwise replace ours on every run, and ours its.
        env1 = envs[label] = dict(env0, XDG_CACHE_HOME=os.path.join(os.environ["HOME"], f".cache-{label}"))
        for n in SIZES:
            commands[(label, n)] = ([path, "--profile", "dev-sso"], dict(env1, AWS_CONFIG_FILE=configs[n]))
        # The profile tools use: [profile dev], whose credential_process names dev-sso (a second hop).
        commands[(label, "dev")] = ([path, "--profile", "dev"], dict(env1, AWS_CONFIG_FILE=configs[20000]))
        # A role assumed from dev-sso (role_arn + source_profile): one more small file, no STS.
        if label == "ours":
            for n in (3, 20000):
                commands[(label, f"deploy {n}")] = ([path, "--profile", "deploy"], dict(env1, AWS_CONFIG_FILE=configs[n]))
    # The shell-prompt line (docs/status.md): ours only, a baseline build may predate it.
    commands[("ours", "prompt")] = ([BIN, "status", "--prompt"], dict(envs["ours"], AWS_CONFIG_FILE=configs[20000]))
    commands[("ours", "prompt dev")] = ([BIN, "status", "--prompt", "--profile", "dev"],
                                        dict(envs["ours"], AWS_CONFIG_FILE=configs[20000]))
    times = {key: [] for key in commands}
    order = list(commands)
    rng = random.Random(16)
    # The config index (src/config_index.rs) is written only for files older than 2 s: wait that
    # long, then warm the page cache and let the first run write each config's index.
    time.sleep(2.5)
    for key in order:  # warm the page cache
        run_once(*commands[key])
    for _ in range(ROUNDS):
        rng.shuffle(order)
        for key in order:
            times[key].append(run_once(*commands[key]))
    rss = {key: peak_rss(*commands[key]) for key in commands}
    return times, rss


def refresh(configs, token_file, role_dir):
    """Token with 5 minutes left and no role credentials: the whole refresh path, each run."""
    env = dict(os.environ, AWS_CONFIG_FILE=configs[3])
    times = {label: [] for label, _ in binaries()}

    def reset():
        token = json.load(open(token_file))
        soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
        token["expiresAt"] = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
        with open(token_file, "w") as f:
            json.dump(token, f)
        for path in glob.glob(os.path.join(role_dir, "*.json")):
            os.remove(path)

    for _ in range(REFRESH_RUNS):
        for label, path in binaries():
            reset()
            before = json.load(open(token_file))["expiresAt"]
            times[label].append(run_once([path, "--profile", "dev-sso"], env))
            if json.load(open(token_file))["expiresAt"] == before:
                raise SystemExit("bench: the refresh path did not refresh the token")
    return times


def botocore(configs):
    try:
        import boto3  # noqa: F401
    except ImportError:
        return None
    py = ("import boto3; c = boto3.Session(profile_name='dev-sso').get_credentials();"
          "assert c.get_frozen_credentials().access_key")
    argv = [sys.executable, "-c", py]
    env = dict(os.environ, AWS_CONFIG_FILE=configs[3])
    times = [run_once(argv, env) for _ in range(BOTO_RUNS)]
    return summary(times), peak_rss(argv, env, runs=1)


def local_commands(configs):
    """The commands that read every profile, at 20,000 profiles: median wall time of LOCAL_RUNS."""
    big = configs[20000]
    rows = []
    cases = [
        ("status", ["status"], None),
        ("status --json", ["status", "--json"], None),
        ("list --sso-session corp", ["list", "--sso-session", "corp"], None),
        ("configure generate --sso-session corp", ["configure", "generate", "--sso-session", "corp"], None),
        ("configure generate --sso-session corp --write", ["configure", "generate", "--sso-session", "corp", "--write"],
         "config"),
        ("logout --all", ["logout", "--all"], "home"),
    ]
    for name, args, copy in cases:
        row = [name]
        for _, path in binaries():
            times = []
            for _ in range(LOCAL_RUNS):
                env = dict(os.environ, AWS_CONFIG_FILE=big)
                scratch = None
                if copy == "config":
                    scratch = big + ".scratch"
                    shutil.copyfile(big, scratch)
                    env["AWS_CONFIG_FILE"] = scratch
                elif copy == "home":
                    scratch = os.path.join(HOME, "scratch-home")
                    shutil.rmtree(scratch, ignore_errors=True)
                    shutil.copytree(AWS, os.path.join(scratch, ".aws"))
                    env["HOME"] = scratch
                times.append(run_once([path] + args, env))
            row.append(statistics.median(times))
        rows.append(row)
    return rows


def main():
    configs = write_configs()
    role_files = glob.glob(os.path.join(AWS, "cli", "cache", "*.json"))
    token_files = glob.glob(os.path.join(AWS, "sso", "cache", "*.json"))
    if len(role_files) != 1 or len(token_files) != 1:
        raise SystemExit(f"bench: expected one role cache and one token file, found {role_files} {token_files}")
    seed_chained_entry()
    print(f"machine: {machine()}")
    print(f"{ROUNDS} interleaved rounds; median and p95 wall time of the whole process; peak RSS (GNU time)\n")

    times, rss = hits(configs, role_files[0])
    labels = [label for label, _ in binaries()]
    head = "| command | " + " | ".join(f"{label} median | p95 | RSS" for label in labels) + " |"
    print(head)
    print("|" + "---|" * (1 + 3 * len(labels)))
    floors = {
        "/bin/true": "`/bin/true`",
        "cat": "`cat` config (3 profiles) + role cache",
        "cat 5000": "`cat` config (5,000 profiles) + role cache",
        "cat 20000": "`cat` config (20,000 profiles) + role cache",
    }
    for name, floor in floors.items():
        med, p95 = summary(times[("floor", name)])
        print(f"| {floor} | {med:.2f} ms | {p95:.2f} ms | {rss[('floor', name)]:.1f} MB |" + " | | |" * (len(labels) - 1))
    for n in SIZES:
        cells = []
        for label in labels:
            med, p95 = summary(times[(label, n)])
            cells.append(f"{med:.2f} ms | {p95:.2f} ms | {rss[(label, n)]:.1f} MB")
        size = os.path.getsize(configs[n])
        shown = f"{size / 1024:,.0f} KB" if size >= 1024 else f"{size} bytes"
        print(f"| cache hit, {n:,} profiles ({shown}) | " + " | ".join(cells) + " |")
    cells = []
    for label in labels:
        med, p95 = summary(times[(label, "dev")])
        cells.append(f"{med:.2f} ms | {p95:.2f} ms | {rss[(label, 'dev')]:.1f} MB")
    print("| cache hit through `--profile dev` (its credential_process names dev-sso), 20,000 profiles | "
          + " | ".join(cells) + " |")
    for n in (3, 20000):
        med, p95 = summary(times[("ours", f"deploy {n}")])
        print(f"| cache hit through `--profile deploy` (role_arn + source_profile dev-sso), {n:,} profiles | "
              f"{med:.2f} ms | {p95:.2f} ms | {rss[('ours', f'deploy {n}')]:.1f} MB |" + " | | |" * (len(labels) - 1))
    for key, name in (("prompt", "`status --prompt` (every session), 20,000 profiles"),
                      ("prompt dev", "`status --prompt --profile dev`, 20,000 profiles")):
        med, p95 = summary(times[("ours", key)])
        print(f"| {name} | {med:.2f} ms | {p95:.2f} ms | {rss[('ours', key)]:.1f} MB |" + " | | |" * (len(labels) - 1))
    cat = summary(times[("floor", "cat")])[0]
    sso = summary(times[("ours", 3)])[0]
    print(f"\nours: chained-role hit / SSO hit, 3 profiles: {summary(times[('ours', 'deploy 3')])[0] / sso:.2f}x")
    for label in labels:
        small = summary(times[(label, 3)])[0]
        ratios = ", ".join(f"{n:,}: {summary(times[(label, n)])[0] / small:.2f}x" for n in SIZES[1:])
        print(f"\n{label}: hit / cat floor {small / cat:.2f}x; hit at N profiles / hit at 3: {ratios}")
    for n in (5000, 20000):
        read = summary(times[("floor", f"cat {n}")])[0] - cat
        extra = ", ".join(f"{label} +{summary(times[(label, n)])[0] - summary(times[(label, 3)])[0]:.2f} ms" for label in labels)
        print(f"{n:,} profiles over 3: cat +{read:.2f} ms (reading the file), {extra}")

    if REFRESH_RUNS:
        r = refresh(configs, token_files[0], os.path.join(AWS, "cli", "cache"))
        print(f"\nrefresh path (token 5 min from expiry, role cache empty; {REFRESH_RUNS} runs):")
        for label in labels:
            med, p95 = summary(r[label])
            print(f"  {label}: median {med:.2f} ms, p95 {p95:.2f} ms")

    if BOTO_RUNS:
        boto = botocore(configs)
        if boto is None:
            print("\nbotocore: not installed (pip install boto3) - skipped")
        else:
            (med, p95), boto_rss = boto
            ours = summary(times[("ours", 3)])[0]
            print(f"\nbotocore get_credentials(), 3 profiles ({BOTO_RUNS} runs): median {med:.1f} ms, p95 {p95:.1f} ms, "
                  f"peak RSS {boto_rss:.1f} MB ({med / ours:.0f}x our hit)")

    if LOCAL_RUNS:
        print(f"\nwhole commands at 20,000 profiles (median of {LOCAL_RUNS}; list and generate call the local fake):")
        print("| command | " + " | ".join(labels) + " |")
        print("|---|" + "---|" * len(labels))
        for row in local_commands(configs):
            print(f"| `{row[0]}` | " + " | ".join(f"{t:.0f} ms" for t in row[1:]) + " |")


main()
