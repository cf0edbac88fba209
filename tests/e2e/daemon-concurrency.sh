#!/bin/bash
# Concurrent InitiateFailback through resyncd: 100 calls on one VM give
# exactly one 4096 and 99 x 32774; calls through resyncctl and the API at
# once still give exactly one 4096; 20 VMs at once give 20 x 4096.  Then the
# latency of GET /v1/jobs/{id} under 100 concurrent clients: the Python
# client's and, with 100 requests in flight from curl, the server's (p50/p99 printed).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"

ulimit -n 8192 2>/dev/null || true
start_resyncd --threads 4
head -c 1M /dev/urandom >"$TMP/rp.img"
for v in one mixed $(seq -f 'm%02g' 1 20); do
	head -c 1M /dev/urandom >"$TMP/$v.img"
	expect_api 201 0 POST /v1/vms "{\"Name\":\"$v\",\"Disks\":[{\"Name\":\"d0\",\"Target\":\"$TMP/$v.img\"}]}"
	expect_api 201 0 POST "/v1/vms/$v/recovery-points" "{\"Id\":\"r\",\"Disks\":[{\"Name\":\"d0\",\"Image\":\"$TMP/rp.img\"}]}"
	expect_api 200 0 POST "/v1/vms/$v/failover" '{}'
done

TMP=$TMP STATE=$TMP/state GETS=$(rounds 10 50) python3 - <<'PY'
import collections, os, subprocess, threading, time
from resyncd_client import Client
c = Client()
# Slow enough that every racing call sees the winner's job alive.
slow = {"ReplicationSettingData": {"change_source": "full", "rate_limit": 16384, "request_size": 65536}}

def race(calls):
    """Runs the callables at once; their results."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)
    def run(i):
        barrier.wait()
        out[i] = calls[i]()
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in ts: t.start()
    for t in ts: t.join()
    return out

def api_failback(vm):
    def call():
        status, _, body = c.call("POST", f"/v1/vms/{vm}/failback", slow)
        return status, body["ReturnValue"]
    return call

res = collections.Counter(race([api_failback("one")] * 100))
assert res == {(202, 4096): 1, (409, 32774): 99}, res
print("100 calls on one VM:", dict(res))

def ctl_failback():
    p = subprocess.run(["resyncctl", "--state-dir", os.environ["STATE"], "--json", "failback", "mixed",
                        "--settings", '{"change_source":"full","rate_limit":16384,"request_size":65536}'], capture_output=True, text=True)
    import json
    return "cli", json.loads(p.stdout)["ReturnValue"]
def api_mixed():
    status, _, body = c.call("POST", "/v1/vms/mixed/failback", slow)
    return "api", body["ReturnValue"]
res = race([ctl_failback] * 10 + [api_mixed] * 40)
rvs = collections.Counter(rv for _, rv in res)
assert rvs == {4096: 1, 32774: 49}, res
print("10 resyncctl + 40 API calls on one VM:", dict(rvs))

vms = [f"m{i:02d}" for i in range(1, 21)]
res = race([api_failback(v) for v in vms])
assert res == [(202, 4096)] * 20, res
print("20 VMs at once:", dict(collections.Counter(res)))

_, _, body = c.call("GET", "/v1/jobs")
jobs = [j["InstanceID"] for j in body["Jobs"]]
assert len(jobs) == 22, body
gets = int(os.environ["GETS"])
def reader(i):
    def run():
        lat = []
        for k in range(gets):
            t = time.monotonic()
            status, _, b = c.call("GET", f"/v1/jobs/{jobs[(i + k) % len(jobs)]}")
            lat.append(time.monotonic() - t)
            assert status == 200 and b["Job"]["InstanceID"] in jobs, (status, b)
        return lat
    return run
lat = sorted(x for l in race([reader(i) for i in range(100)]) for x in l)
p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
print(f"GET /v1/jobs/{{id}} under 100 concurrent clients, {len(lat)} requests: "
      f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")

for j in jobs:
    status, _, b = c.call("POST", f"/v1/jobs/{j}/RequestStateChange", {"RequestedState": 4})
    assert (status, b["ReturnValue"]) == (202, 4096), (j, status, b)
for j in jobs:
    assert c.wait_job(f"/v1/jobs/{j}")["JobState"] == 8, j
PY
# The server's side of the latency, with a C client: curl keeps 100
# requests in flight over the 22 job records.
api GET /v1/jobs >/dev/null
grep -o '"InstanceID":"[^"]*"' "$TMP/out" | cut -d'"' -f4 >"$TMP/jobs"
n=$(rounds 2000 10000)
for i in $(seq "$n"); do
	printf 'url = "http://resyncd/v1/jobs/%s"\noutput = "/dev/null"\n' "$(sed -n "$((i % 22 + 1))p" "$TMP/jobs")"
done >"$TMP/curl.cfg"
curl -s -Z --parallel-max 100 --parallel-immediate --unix-socket "$RESYNCD_SOCK" \
	-w 'T %{http_code} %{time_total}\n' -K "$TMP/curl.cfg" >"$TMP/lat" 2>"$TMP/curl.err"
[ "$(grep -c '^T 200 ' "$TMP/lat")" = "$n" ] || fail "not every GET answered 200: $(grep '^T' "$TMP/lat" | grep -v ' 200 ' | head -3)"
grep '^T' "$TMP/lat" | cut -d' ' -f3 | sort -n | awk -v n="$n" '{a[NR] = $1}
	END {printf "GET /v1/jobs/{id}, %d requests, 100 in flight (curl): p50 %.1f ms, p99 %.1f ms\n", n, a[int(NR * 0.5)] * 1000, a[int(NR * 0.99)] * 1000}'
# Listings at once through the daemon's one open store each see every job
# and every VM.
n=$(rounds 200 1000)
mkdir "$TMP/lists"
for i in $(seq "$n"); do
	if [ $((i % 2)) = 0 ]; then u=/v1/jobs; else u=/v1/vms; fi
	printf 'url = "http://resyncd%s"\noutput = "%s/lists/%d"\n' "$u" "$TMP" "$i"
done >"$TMP/lists.cfg"
curl -s -Z --parallel-max 100 --parallel-immediate --unix-socket "$RESYNCD_SOCK" -K "$TMP/lists.cfg" 2>"$TMP/curl.err"
for i in $(seq "$n"); do
	got=$(grep -o '"InstanceID":\|"Name":"[a-z0-9]*","ReplicationMode"' "$TMP/lists/$i" | wc -l)
	[ "$got" = 22 ] || fail "listing $i saw $got of 22 jobs or VMs: $(head -c 300 "$TMP/lists/$i")"
done
echo "daemon-concurrency: one winner per VM, every VM its own job"
