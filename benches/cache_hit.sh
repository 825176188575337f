#!/usr/bin/env bash
# Cache-hit benchmark: whole-process wall time and peak RSS of `aws-sso-process --profile dev-sso`
# when valid role credentials are on disk, next to botocore getting credentials for the same
# profile (boto3 through its SSO provider, reading the same caches). Loopback only.
#
#   benches/cache_hit.sh [RUNS]        (default 300 runs of ours, 20 of botocore)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
cargo build --release --quiet --bin aws-sso-process --example fake_sso
bin=$PWD/target/release/aws-sso-process
home=$(mktemp -d)
trap 'kill $fake_pid 2>/dev/null || true; rm -rf "$home"' EXIT
coproc FAKE { exec target/release/examples/fake_sso --seed-home "$home"; }
fake_pid=$FAKE_PID
read -r url <&"${FAKE[0]}"
export HOME=$home AWS_ENDPOINT_URL_SSO_OIDC=$url AWS_ENDPOINT_URL_SSO=$url AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
"$bin" --profile dev-sso >/dev/null  # fills the role cache through the fake
python3 - "$bin" "$runs" <<'PY'
import os, resource, statistics, subprocess, sys, time
bin_, runs = sys.argv[1], int(sys.argv[2])

def bench(cmd, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), sorted(times)[int(len(times) * 0.95) - 1]

def child_rss(cmd):
    # Peak RSS (MB) by GNU time: Python's own ru_maxrss of a child would include the interpreter
    # image the child had before exec.
    if not os.path.exists("/usr/bin/time"):
        return float("nan")
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=True).stderr
    return int(out.strip().splitlines()[-1]) / 1024

base, _ = bench(["/bin/true"], runs)
ours, ours95 = bench([bin_, "--profile", "dev-sso"], runs)
ours_rss = child_rss([bin_, "--profile", "dev-sso"])
print(f"process spawn baseline (/bin/true): median {base:.2f} ms")
print(f"aws-sso-process cache hit:          median {ours:.2f} ms, p95 {ours95:.2f} ms, peak RSS {ours_rss:.1f} MB ({runs} runs)")
try:
    import boto3  # noqa: F401
except ImportError:
    print("botocore: not installed (pip install boto3) - skipped")
    sys.exit(0)
py = ("import boto3; c = boto3.Session(profile_name='dev-sso').get_credentials();"
      "assert c.get_frozen_credentials().access_key")
boto, boto95 = bench([sys.executable, "-c", py], 20)
boto_rss = child_rss([sys.executable, "-c", py])
print(f"botocore get_credentials():         median {boto:.2f} ms, p95 {boto95:.2f} ms, peak RSS {boto_rss:.1f} MB (20 runs)")
print(f"speed-up: {boto / ours:.0f}x")
PY
