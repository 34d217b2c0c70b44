#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# suite_report.py OUT: turn the raw results of tests/bench/suite.sh
# (OUT/raw: fio JSON, ringfs-bench JSON, meta.tsv, params.txt) into
# OUT/results.md (Markdown tables) and OUT/results.json.  Medians over the
# rounds; ratios against passthrough_ll cache=never (pt-never) of the
# same run.
import json
import os
import statistics
import sys

out = sys.argv[1]
raw = os.path.join(out, "raw")

params, targets, labels = {}, [], {}
with open(os.path.join(raw, "params.txt")) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("=")
        if k == "target":
            t, _, lab = v.partition("|")
            targets.append(t)
            labels[t] = lab
        else:
            params[k] = v
rounds = int(params["rounds"])
nfiles = int(params["nfiles"])
REF = "pt-never"

# samples[target][metric] = [value per round]
samples = {t: {} for t in targets}


def add(t, m, v):
    if t in samples and v is not None:
        samples[t].setdefault(m, []).append(v)


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def sys_cell(path):
    """the read4k cell of one ringfs-bench --mount JSON"""
    cell = None
    for c in (load_json(path) or {}).get("results", []):
        if c.get("workload") == "read4k" and c.get("ops"):
            cell = c
    return cell


def side_counts(s):
    """(syscalls, ctx switches vol + invol, vol) per op of one side"""
    s = s or {}
    cs = None
    if s.get("vol_ctxsw_per_op") is not None:
        cs = s["vol_ctxsw_per_op"] + (s.get("invol_ctxsw_per_op") or 0)
    return s.get("syscalls_per_op"), cs, s.get("vol_ctxsw_per_op")


# processes counted per target with several ringfs-bench runs (sshfs):
# proc_names[target] = {"dmn": [comm...], "srv": [comm...]}
proc_names = {}


def sys_parts(r, t):
    """r<R>-<T>-sys.parts (suite.sh's sys_parts): one ringfs-bench run per
    pair of processes, each line "file side role pid comm"; None if the
    target was measured the ordinary way"""
    try:
        with open(os.path.join(raw, f"r{r}-{t}-sys.parts")) as f:
            lines = [ln.split(None, 4) for ln in f if ln.strip()]
    except OSError:
        return None
    parts = []
    for ln in lines:
        fname, side, role = ln[0], ln[1], ln[2]
        comm = ln[4].strip() if len(ln) > 4 else "?"
        if role not in ("dmn", "srv"):
            continue            # an idle filler process
        cell = sys_cell(os.path.join(raw, fname))
        if cell is None:
            return []
        parts.append((fname, side, role, comm, cell))
    return parts


def add_parts(t, parts):
    """sum the processes of a several-run target: daemon(s) = role dmn,
    server = role srv; the app side and p50 from the first run"""
    if not parts:
        return
    names = {"dmn": [], "srv": []}
    tot = {"dmn": [0.0, 0.0, 0.0], "srv": [0.0, 0.0, 0.0]}
    for _, side, role, comm, cell in parts:
        sc, cs, vcs = side_counts(cell.get(side))
        names[role].append(comm)
        for i, v in enumerate((sc, cs, vcs)):
            tot[role][i] += v or 0
    first = parts[0][4]
    asc, acs, avcs = side_counts(first.get("client"))
    add(t, "app_sys", asc)
    add(t, "app_cs", acs)
    add(t, "app_vcs", avcs)
    for role in ("dmn", "srv"):
        add(t, role + "_sys", tot[role][0])
        add(t, role + "_cs", tot[role][1])
        add(t, role + "_vcs", tot[role][2])
    add(t, "tot_sys", (asc or 0) + tot["dmn"][0] + tot["srv"][0])
    add(t, "tot_cs", (acs or 0) + tot["dmn"][1] + tot["srv"][1])
    add(t, "sys_p50", first.get("p50_us"))
    proc_names[t] = names


for r in range(1, rounds + 1):
    for t in targets:
        for w, side in (("rr4k", "read"), ("rw4k", "write"),
                        ("rr4kq32", "read"), ("rr4kj4", "read"),
                        ("rr4kq32j4", "read"), ("sr1m", "read"),
                        ("sw1m", "write")):
            j = load_json(os.path.join(raw, f"r{r}-{t}-{w}.json"))
            if not j:
                continue
            try:
                d = j["jobs"][0][side]
            except (KeyError, IndexError):
                continue
            pct = d.get("clat_ns", {}).get("percentile", {})
            if "50.000000" in pct:
                add(t, w + "_p50", pct["50.000000"] / 1000)
                add(t, w + "_p99", pct["99.000000"] / 1000)
            add(t, w + "_iops", d["iops"])
            add(t, w + "_mbs", d["bw_bytes"] / 1e6)
        parts = sys_parts(r, t)
        if parts is not None:
            add_parts(t, parts)
            continue
        cell = sys_cell(os.path.join(raw, f"r{r}-{t}-sys.json"))
        if cell:
            tot_s = tot_c = 0.0
            for side, key in (("client", "app"), ("daemon", "dmn"),
                              ("server", "srv")):
                s = cell.get(side) or {}
                sc = s.get("syscalls_per_op")
                cs = None
                if s.get("vol_ctxsw_per_op") is not None:
                    cs = s["vol_ctxsw_per_op"] + \
                        (s.get("invol_ctxsw_per_op") or 0)
                if t.startswith("pt-") and side == "server":
                    continue        # no server behind passthrough_ll
                add(t, key + "_sys", sc)
                add(t, key + "_cs", cs)
                add(t, key + "_vcs", s.get("vol_ctxsw_per_op"))
                tot_s += sc or 0
                tot_c += cs or 0
            add(t, "tot_sys", tot_s)
            add(t, "tot_cs", tot_c)
            add(t, "sys_p50", cell.get("p50_us"))

meta = {}
try:
    with open(os.path.join(raw, "meta.tsv")) as f:
        for line in f:
            r, t, m, v = line.split()
            meta.setdefault((t, int(r)), {})[m] = float(v)
except OSError:
    pass
for (t, r), d in sorted(meta.items()):
    for m in ("create", "stat", "unlink"):
        if m in d and d[m] > 0:
            add(t, m + "_ops", nfiles / d[m])
    if all(m in d for m in ("create", "stat", "unlink")):
        add(t, "meta_ops", 3 * nfiles / (d["create"] + d["stat"] +
                                          d["unlink"]))
    for m in ("ls", "untar", "rmtree"):
        if m in d:
            add(t, m + "_s", d[m])

med = {t: {m: statistics.median(v) for m, v in ms.items()}
       for t, ms in samples.items()}


def get(t, m):
    return med.get(t, {}).get(m)


def ref_of(m):
    """the reference target of metric m: passthrough_ll cache=never, but
    pt-nd for O_DIRECT writes (which passthrough_ll fails, see skipped)"""
    if m.startswith(("rw4k_", "sw1m_")) and get(REF, m) is None:
        return "pt-nd"
    return REF


def ratio(t, m):
    v, ref = get(t, m), get(ref_of(m), m)
    if v is None or not ref:
        return None
    return v / ref


def fmt(v, nd=1):
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{nd}f}"


def cell(t, m, nd=1, scale=1.0):
    v = get(t, m)
    if v is None:
        return "n/a"
    s = fmt(v * scale, nd)
    r = ratio(t, m)
    if t == ref_of(m):
        s += " (ref)"
    elif r is not None:
        s += f" ({r:.2f}×)"
    return s


md = []
P = params
md.append(f"ringfs benchmark suite — {P['mode']} run, {rounds} round(s), "
          f"medians; rev {P.get('rev', '?')}, kernel {P['kernel']}, "
          f"{P['cpus']} CPUs, {P['fio']}, backing fs {P['fstype']}.  ")
md.append(f"Load average (1/5/15 min) at start {P['load_start']}, at end "
          f"{P['load_end']}; {P['elapsed']} s of measurements.  ")
if P["rounds"] != P["rounds_asked"]:
    md.append(f"**Only {rounds} of {P['rounds_asked']} rounds:** the time "
              f"budget ({P['budget']} s) ran out.  ")
md.append(f"Command: `{P['command']}`"
          + (f", ringfs mount options: `{P['mount_opts']}`"
             if P.get("mount_opts") else "") + ".")
md.append("")
md.append("(×) = value / the reference's (ref) in the same run: "
          "passthrough_ll cache=never, except for O_DIRECT writes, which it "
          "fails, where it is passthrough_ll cache=never without O_DIRECT "
          "(for latencies and times lower is better, for rates higher).  "
          "ringfs passes O_DIRECT to the server, which opens the file "
          "O_DIRECT too (client/README.md): its direct reads and writes end "
          "on the disk, like passthrough_ll's and the backing dir's."
          + ("  sshfs cannot forward O_DIRECT either (SFTP has no such "
             "flag): its reads end in the page cache behind sftp-server, "
             "and its writes are asynchronous (sshfs's default: a WRITE "
             "is answered before sftp-server has written it), so its "
             "write latency is not a round trip." if "sshfs" in targets
             else ""))
md.append("")
md.append(f"fio: O_DIRECT, {P['runtime']} s per cell after {P['ramp']} s "
          f"ramp; QD1 = psync, QD32 = libaio; reads of a {P['size']} file, "
          f"4K writes into a {P['wsize']} file.")
md.append("")
md.append("| target | 4K rand read QD1 p50 µs | p99 µs | 4K rand write QD1"
          " p50 µs | p99 µs | 4K rand read QD32 kIOPS | 1M seq read MB/s"
          " | 1M seq write MB/s |")
md.append("|---|---:|---:|---:|---:|---:|---:|---:|")
for t in targets:
    md.append(f"| {labels[t]} | {cell(t, 'rr4k_p50')} | "
              f"{cell(t, 'rr4k_p99')} | {cell(t, 'rw4k_p50')} | "
              f"{cell(t, 'rw4k_p99')} | "
              f"{cell(t, 'rr4kq32_iops', 1, 1e-3)} | "
              f"{cell(t, 'sr1m_mbs', 0)} | {cell(t, 'sw1m_mbs', 0)} |")
md.append("")
md.append("The wait policy with more readers than CPUs (4 fio jobs on 2 CPUs, "
          "4K O_DIRECT random reads, one aggregate per cell):")
md.append("")
md.append("| target | 4 jobs QD1 p50 µs | 4 jobs QD1 kIOPS | 4 jobs QD32 "
          "kIOPS |")
md.append("|---|---:|---:|---:|")
for t in targets:
    md.append(f"| {labels[t]} | {cell(t, 'rr4kj4_p50')} | "
              f"{cell(t, 'rr4kj4_iops', 1, 1e-3)} | "
              f"{cell(t, 'rr4kq32j4_iops', 1, 1e-3)} |")
md.append("")
md.append(f"Metadata: {nfiles} files (open O_CREAT|O_EXCL + close, stat, "
          f"unlink), `ls -l` of them (after the stats), `tar -x` of a "
          f"{P['tree_files']}-entry header tree ({P['tree_mb']} MB) and "
          f"`rm -rf` of it.")
md.append("")
md.append("| target | create/s | stat/s | unlink/s | ls -l ms | tar -x s |"
          " rm -rf s |")
md.append("|---|---:|---:|---:|---:|---:|---:|")
for t in targets:
    md.append(f"| {labels[t]} | {cell(t, 'create_ops', 0)} | "
              f"{cell(t, 'stat_ops', 0)} | {cell(t, 'unlink_ops', 0)} | "
              f"{cell(t, 'ls_s', 1, 1e3)} | {cell(t, 'untar_s', 2)} | "
              f"{cell(t, 'rmtree_s', 2)} |")
md.append("")

# ringfs against sshfs, per transport: how many times better ringfs is
# (issue 11: "against sshfs ... >= 5x on every row, every transport")
VS_MIN = 5.0
vs_sshfs = []
if "sshfs" in targets:
    def better(t, m, lower):
        a, b = get(t, m), get("sshfs", m)
        if a is None or b is None or not a or not b:
            return None
        return b / a if lower else a / b

    for t in ("tcp", "uring", "shm", "shm-nopt", "rdma"):
        if t not in targets:
            continue
        row = {"transport": t,
               "rr4k_p50": better(t, "rr4k_p50", True),
               "rw4k_p50": better(t, "rw4k_p50", True),
               "rr4kq32_iops": better(t, "rr4kq32_iops", False)}
        need = (row["rr4k_p50"], row["rr4kq32_iops"])
        row["met"] = (None if None in need
                      else all(v >= VS_MIN for v in need))
        vs_sshfs.append(row)
if vs_sshfs:
    def xb(v, t, m, nd=1, scale=1.0, unit=""):
        if v is None:
            return "n/a"
        return (f"{v:.2f}× ({fmt(get(t, m) * scale, nd)} vs "
                f"{fmt(get('sshfs', m) * scale, nd)}{unit})")

    md.append("ringfs vs sshfs: how many times better ringfs is (sshfs "
              "p50 / ringfs p50; ringfs IOPS / sshfs IOPS), target "
              f"≥ {VS_MIN:g}× for QD1 latency and QD32 IOPS on every "
              "transport (issue 11; the write column is for information: "
              "sshfs writes are asynchronous).")
    md.append("")
    md.append("| ringfs vs sshfs | 4K rand read QD1 p50 | 4K rand write QD1"
              " p50 | 4K rand read QD32 IOPS (k) | "
              f"≥ {VS_MIN:g}× (read p50, QD32) |")
    md.append("|---|---:|---:|---:|:---:|")
    for row in vs_sshfs:
        t = row["transport"]
        met = {None: "n/a", True: "yes", False: "**no**"}[row["met"]]
        md.append(f"| ringfs {t} vs sshfs | "
                  f"{xb(row['rr4k_p50'], t, 'rr4k_p50', unit=' µs')} | "
                  f"{xb(row['rw4k_p50'], t, 'rw4k_p50', unit=' µs')} | "
                  f"{xb(row['rr4kq32_iops'], t, 'rr4kq32_iops', 1, 1e-3)}"
                  f" | {met} |")
    md.append("")

# goals: (text, value, limit text, met?)
goals = []


def goal(text, v, limit, ok, note=""):
    # a row per target of the run (the text starts with its name)
    if text.split()[0] not in targets:
        return
    goals.append({"goal": text, "value": v, "target": limit,
                  "met": None if v is None else ok(v), "note": note})


# issue 11's targets, through the mount, against passthrough_ll
# cache=never of the same run
# shm-nopt: shm's own data path (-o passthrough=off), held to shm's rows
for t, lim in (("shm", 1.0), ("shm-nopt", 1.0), ("uring", 1.5),
               ("tcp", 2.0)):
    goal(f"{t} 4K QD1 O_DIRECT rand read p50 / passthrough_ll",
         ratio(t, "rr4k_p50"), f"≤ {lim:g}",
         lambda v, lim=lim: v <= lim,
         f"{fmt(get(t, 'rr4k_p50'))} µs vs {fmt(get(REF, 'rr4k_p50'))} µs")
for t, lim in (("shm", 3), ("shm-nopt", 3), ("uring", 5), ("tcp", 8)):
    goal(f"{t} syscalls per 4K read, app + client + server",
         get(t, "tot_sys"), f"≤ {lim}", lambda v, lim=lim: v <= lim,
         f"passthrough_ll: {fmt(get(REF, 'tot_sys'), 2)}")
for t in ("shm", "shm-nopt", "uring", "tcp"):
    cs = get(t, "tot_cs")
    app = get(t, "app_cs") if get(t, "app_cs") is not None else 1.0
    goal(f"{t} context switches per 4K read, client + server",
         None if cs is None else cs - app, "≤ 1.5", lambda v: v <= 1.5,
         "the application's own switch not counted")
for t, lim in (("shm", 1.5), ("shm-nopt", 1.5), ("uring", 1.0)):
    goal(f"{t} 4K QD32 IOPS / passthrough_ll", ratio(t, "rr4kq32_iops"),
         f"≥ {lim:g}", lambda v, lim=lim: v >= lim)
for t, lim in (("shm", 1.2), ("shm-nopt", 1.2), ("uring", 1.5)):
    goal(f"{t} 4K QD1 rand write p50 / reference", ratio(t, "rw4k_p50"),
         f"≤ {lim:g}", lambda v, lim=lim: v <= lim)
for t in ("shm", "shm-nopt", "uring"):
    for m in ("create", "stat", "unlink"):
        goal(f"{t} {m} ops/s / passthrough_ll", ratio(t, m + "_ops"),
             "≥ 1", lambda v: v >= 1)
    goal(f"{t} ls -l time / passthrough_ll (lower is better)",
         ratio(t, "ls_s"), "≤ 1", lambda v: v <= 1)
    goal(f"{t} tar -x time / passthrough_ll (lower is better)",
         ratio(t, "untar_s"), "≤ 1", lambda v: v <= 1)
    goal(f"{t} 1M seq read MB/s", get(t, "sr1m_mbs"), "≥ 2000",
         lambda v: v >= 2000)
    goal(f"{t} 1M seq write MB/s / reference", ratio(t, "sw1m_mbs"),
         "≥ 1", lambda v: v >= 1)

md.append("| goal | measured | target | met | note |")
md.append("|---|---:|---:|:---:|---|")
for g in goals:
    met = {None: "n/a", True: "yes", False: "**no**"}[g["met"]]
    md.append(f"| {g['goal']} | {fmt(g['value'], 2)} | {g['target']} | "
              f"{met} | {g['note']} |")
md.append("")

md.append(f"Per 4 KiB O_DIRECT read at QD1 ({P['sysops']} reads by "
          "`ringfs-bench --mount`, a pread() loop like fio's psync; exact "
          "counts from perf raw_syscalls:sys_enter and context switches, "
          "voluntary + involuntary, every thread of each process): app = "
          "the reading thread, daemon = the FUSE daemon (ringfs client or "
          "passthrough_ll), server = ringfsd."
          + "".join(f"  {labels[t]}: daemon(s) = "
                    f"{' + '.join(n['dmn']) or '—'}, server = "
                    f"{' + '.join(n['srv']) or '—'} (ringfs-bench counts "
                    "two processes per run: one run per pair, app and p50 "
                    "from the first)."
                    for t, n in proc_names.items()))
md.append("")
md.append("| target | p50 µs | syscalls app | daemon | server | **total** |"
          " ctx sw app | daemon | server | **total** |")
md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for t in targets:
    if get(t, "tot_sys") is None:
        continue
    md.append(f"| {labels[t]} | {fmt(get(t, 'sys_p50'))} | "
              + " | ".join(fmt(get(t, k), 2) if get(t, k) is not None
                           else "—" for k in
                           ("app_sys", "dmn_sys", "srv_sys")) +
              f" | **{fmt(get(t, 'tot_sys'), 2)}** | "
              + " | ".join(fmt(get(t, k), 2) if get(t, k) is not None
                           else "—" for k in
                           ("app_cs", "dmn_cs", "srv_cs")) +
              f" | **{fmt(get(t, 'tot_cs'), 2)}** |")
md.append("")

try:
    with open(os.path.join(raw, "failures.txt")) as f:
        fails = [ln.strip() for ln in f if ln.strip()]
except OSError:
    fails = []
try:
    with open(os.path.join(raw, "skipped.txt")) as f:
        skipped = [ln.strip() for ln in f if ln.strip()]
except OSError:
    skipped = []
if skipped:
    md.append("Not measured:")
    md.append("")
    md.extend(f"- {x}" for x in skipped)
    md.append("")
if fails:
    md.append("Failed measurements (left out of the medians):")
    md.append("")
    md.extend(f"- {x}" for x in fails)
    md.append("")

with open(os.path.join(out, "results.md"), "w") as f:
    f.write("\n".join(md))
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump({"params": params, "targets": targets, "labels": labels,
               "reference": REF, "samples": samples, "medians": med,
               "ratios": {t: {m: ratio(t, m) for m in med[t]}
                          for t in targets},
               "goals": goals, "vs_sshfs": vs_sshfs,
               "sys_processes": proc_names, "failures": fails, "skipped": skipped},
              f, indent=1)
