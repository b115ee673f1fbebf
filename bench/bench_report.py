"""bench_report.py - turns bench/run's rows into the summary tables (with
the ratios: sluice / best peer, sluice / the machine's limit) and the PNG
plots (matplotlib, Agg backend: no display needed)."""
import csv
import math
import os

SYSTEMS = [("sluice", "librdkafka"), ("sluice", "native"), ("kafka", "librdkafka"),
           ("redis", "hiredis"), ("nats", "libnats"), ("kafka-mock", "librdkafka")]
PEERS = ("kafka", "redis", "nats")


def label(system, client):
    return f"{system} ({client})"


def si(v):
    if v is None:
        return "-"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.2f}{suffix}"
    return f"{v:.0f}"


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


def find(rows, **want):
    out = []
    for r in rows:
        if all(r.get(k) == v for k, v in want.items()) and r.get("ok"):
            out.append(r)
    return out


def one(rows, **want):
    got = find(rows, **want)
    return got[0] if got else None


def groups(rows, workload):
    """The (durability, size, partitions) triples present for a workload."""
    seen = []
    for r in rows:
        if r.get("workload") == workload:
            key = (r["durability"], r["size"], r["partitions"])
            if key not in seen:
                seen.append(key)
    return seen


def machine_table(meta, limits):
    def mb(name, key="mb_s"):
        v = limits.get(name, {}).get(key)
        return f"{v:.0f} MB/s" if v else "-"
    fs = limits.get("fsync", {})
    lines = [
        f"Machine: {meta.get('cpu', '?')}, {meta.get('cores')} cores, "
        f"{meta.get('mem_gib')} GiB, kernel {meta.get('kernel')}; {meta.get('date')}"
        f"{' (quick run)' if meta.get('quick') else ''}.",
        "",
        "| memcpy | loopback TCP | disk write, page cache | disk write, fdatasync per MiB "
        "| 4 KiB write+fdatasync p50 / p99 |",
        "|---|---|---|---|---|",
        f"| {mb('memcpy')} | {mb('loopback', 'loopback_mb_s')} | {mb('disk_os')} "
        f"| {mb('disk_always')} | {fs.get('p50_us', 0):.0f} / {fs.get('p99_us', 0):.0f} us |",
    ]
    fo = limits.get("fsync_overwrite")
    if fo:
        lines += ["", f"4 KiB O_DIRECT overwrite of written blocks + fdatasync (the shard "
                      f"journal's floor): p50 {fo.get('p50_us', 0):.0f} / p99 "
                      f"{fo.get('p99_us', 0):.0f} us."]
    return lines


def produce_table(rows):
    lines = ["| durability | size | partitions | " +
             " | ".join(label(s, c) for s, c in SYSTEMS) +
             " | sluice ÷ best peer | librdkafka ÷ mock |",
             "|---" * (3 + len(SYSTEMS) + 2) + "|"]
    for dur, size, parts in groups(rows, "produce"):
        cells, rates = [], {}
        for s, c in SYSTEMS:
            r = one(rows, system=s, client=c, workload="produce", durability=dur,
                    size=size, partitions=parts)
            rates[(s, c)] = r.get("msgs_s") if r else None
            cells.append(f"{si(r['msgs_s'])} msg/s, {r['mb_s']:.0f} MB/s" if r else "-")
        best = max([rates[k] for k in rates if k[0] in PEERS and rates[k]] or [0])
        mine = rates[("sluice", "librdkafka")]
        mock = rates[("kafka-mock", "librdkafka")] if dur == "page-cache" else None
        lines.append(f"| {dur} | {size} B | {parts} | " + " | ".join(cells) +
                     f" | {ratio(mine, best)} | {ratio(mine, mock)} |")
    return lines


def consume_table(rows, limits):
    loop = limits.get("loopback", {}).get("loopback_mb_s")
    cols = [k for k in SYSTEMS if k[0] != "kafka-mock"]
    if any(r.get("client") == "native-multi" for r in rows):
        cols.insert(2, ("sluice", "native-multi"))
    lines = ["| size | partitions | " + " | ".join(label(s, c) for s, c in cols) +
             " | sluice ÷ best peer | sluice native ÷ loopback | native one Fetch of all ÷ "
             "loopback |", "|---" * (2 + len(cols) + 3) + "|"]
    for dur, size, parts in groups(rows, "consume"):
        cells, mb = [], {}
        for s, c in cols:
            r = one(rows, system=s, client=c, workload="consume", size=size, partitions=parts)
            mb[(s, c)] = r.get("mb_s") if r else None
            cells.append(f"{r['mb_s']:.0f} MB/s, {si(r['msgs_s'])} msg/s" if r else "-")
        best = max([mb[k] for k in mb if k[0] in PEERS and mb[k]] or [0])
        mine = max([v for k, v in mb.items() if k[0] == "sluice" and v] or [0])
        lines.append(f"| {size} B | {parts} | " + " | ".join(cells) +
                     f" | {ratio(mine, best)} | {ratio(mb[('sluice', 'native')], loop)} | "
                     f"{ratio(mb.get(('sluice', 'native-multi')), loop)} |")
    return lines


def sync_table(rows):
    """The synchronous producer (one message in flight) at 1k msgs/s."""
    lines = ["| durability | system (client) | ack p50 / p99 / p99.9 / max (us) | "
             "kept up | sluice ÷ Redis (p99) | librdkafka: sluice ÷ mock (p99) |",
             "|---|---|---|---|---|---|"]
    sync = [r for r in rows if r.get("workload") == "latency-sync"]
    for dur in ("durable", "page-cache"):
        def p99(s, c):
            r = one(sync, system=s, client=c, durability=dur)
            return r.get("ack_p99_us") if r and r.get("ok") and r.get("kept_up") else None
        for s, c in SYSTEMS + [("sluice", "native-spin")]:
            r = one(sync, system=s, client=c, durability=dur)
            if not r:
                continue
            q = " / ".join(f"{r.get(f'ack_{k}_us', 0):.0f}" for k in ("p50", "p99", "p999",
                                                                       "max"))
            vs_redis = ratio(p99(s, c), p99("redis", "hiredis")) if s == "sluice" else ""
            vs_mock = ratio(p99(s, c), p99("kafka-mock", "librdkafka")) \
                if (s, c) == ("sluice", "librdkafka") and dur == "page-cache" else ""
            lines.append(f"| {dur} | {label(s, c)} | {q if r.get('ok') else 'failed'} | "
                         f"{'yes' if r.get('kept_up') else 'no'} | {vs_redis} | {vs_mock} |")
    return lines


def turns_table(rows):
    lines = ["| broker | rate/s | segments rolled | turns | turn p50 / p99 / p99.9 / p99.99 / "
             "max (us) | turns over 1 ms | ack p99 (us) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("workload") != "loop-turns":
            continue
        q = " / ".join(f"{r.get(f'turn_{k}_us', 0):.0f}" for k in ("p50", "p99", "p999",
                                                                    "p9999", "max"))
        lines.append(f"| {r.get('config')} | {si(r.get('rate'))} | {r.get('segments', 0)} | "
                     f"{r.get('turns', 0)} | {q if r.get('ok') else 'failed'} | "
                     f"{r.get('turn_over_1ms', '-')} | {r.get('ack_p99_us', 0):.0f} |")
    return lines


def latency_table(rows):
    lines = ["| durability | size | partitions | rate/s | system (client) | produce→ack p50 / "
             "p99 / p99.9 / max (us) | produce→consume p50 / p99 / p99.9 / max (us) | sustained |",
             "|---|---|---|---|---|---|---|---|"]
    lat = [r for r in rows if r.get("workload") == "latency"]
    lat.sort(key=lambda r: (r["durability"], r["size"], r["partitions"], r["rate"],
                            r["system"], r["client"]))
    for r in lat:
        who = label(r["system"], r["client"])
        if not r.get("ok"):
            lines.append(f"| {r['durability']} | {r['size']} B | {r['partitions']} | "
                         f"{si(r['rate'])} | {who} | failed | failed | - |")
            continue
        def q(p):
            return " / ".join(f"{r.get(f'{p}_{k}_us', 0):.0f}"
                              for k in ("p50", "p99", "p999", "max"))
        lines.append(f"| {r['durability']} | {r['size']} B | {r['partitions']} | "
                     f"{si(r['rate'])} | {who} | {q('ack')} | {q('e2e')} | "
                     f"{'yes' if r.get('sustained') else 'no'} |")
    return lines


def latency_glance(rows):
    """100 B on 1 partition: p99s at three rates and the highest rate
    sustained, per system and class."""
    lines = ["| durability | system (client) | ack p99 at 1k/s | produce→consume p99 at 1k/s "
             "| at 10k/s | at 100k/s | highest rate sustained |", "|---|---|---|---|---|---|---|"]
    lat = [r for r in rows if r.get("workload") == "latency" and r.get("ok")
           and r["size"] == 100 and r["partitions"] == 1]
    for dur in ("durable", "page-cache"):
        for s, c in SYSTEMS:
            mine = {r["rate"]: r for r in lat if (r["system"], r["client"]) == (s, c)
                    and r["durability"] == dur}
            if not mine:
                continue
            def p99(rate, kind="e2e"):
                r = mine.get(rate)
                if not r or not r.get("sustained"):
                    return "not sustained" if r else "-"
                return f"{r[f'{kind}_p99_us']:.0f} us"
            top = max([rate for rate, r in mine.items() if r.get("sustained")] or [0])
            lines.append(f"| {dur} | {label(s, c)} | {p99(1000, 'ack')} | {p99(1000)} | "
                         f"{p99(10000)} | {p99(100000)} | {si(top) if top else '-'} msg/s |")
    return lines


def cpu_table(rows):
    lines = ["| durability | system (client) | size | partitions | msgs/s | client CPU | "
             "broker CPU | broker CPU us/msg |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("workload") != "produce" or not r.get("ok"):
            continue
        secs, msgs = r.get("secs") or 0, r.get("msgs") or 0
        cli = f"{100 * r['client_cpu_s'] / secs:.0f}%" if secs and "client_cpu_s" in r else "-"
        srv = r.get("server_cpu_s")
        srv_pct = f"{100 * srv / secs:.0f}%" if srv is not None and secs else "-"
        per = f"{1e6 * srv / msgs:.2f}" if srv is not None and msgs else "-"
        lines.append(f"| {r['durability']} | {label(r['system'], r['client'])} | {r['size']} B "
                     f"| {r['partitions']} | {si(r.get('msgs_s'))} | {cli} | {srv_pct} | {per} |")
    return lines


def kafka_table(rows):
    """sluice ÷ Apache Kafka, like with like: same class, client, size,
    partitions (and rate, for latency: the ack p99 ratio, lower is better
    for sluice below 1)."""
    lines = ["| workload | durability | client | size | partitions | sluice | Kafka "
             "| sluice ÷ Kafka |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("system") != "sluice" or not r.get("ok") or \
                r.get("workload") not in ("produce", "consume", "produce-tool"):
            continue
        k = one(rows, system="kafka", client=r["client"], workload=r["workload"],
                durability=r["durability"], size=r["size"], partitions=r["partitions"])
        if not k:
            continue
        lines.append(f"| {r['workload']} | {r['durability']} | {r['client']} | {r['size']} B "
                     f"| {r['partitions']} | {si(r['msgs_s'])} msg/s | {si(k['msgs_s'])} msg/s "
                     f"| {ratio(r['msgs_s'], k['msgs_s'])} |")
    for r in rows:
        if r.get("system") != "sluice" or not r.get("ok") or r.get("workload") != "latency":
            continue
        k = one(rows, system="kafka", client=r["client"], workload="latency",
                durability=r["durability"], size=r["size"], partitions=r["partitions"],
                rate=r["rate"])
        if k and k.get("ack_p99_us") and r.get("ack_p99_us"):
            lines.append(f"| latency {si(r['rate'])}/s ack p99 | {r['durability']} "
                         f"| {r['client']} | {r['size']} B | {r['partitions']} "
                         f"| {r['ack_p99_us']:.0f} us | {k['ack_p99_us']:.0f} us "
                         f"| {ratio(r['ack_p99_us'], k['ack_p99_us'])} |")
    return lines


def summary(meta, limits, rows):
    failed = [r for r in rows if not r.get("ok")]
    out = ["# sluice benchmark summary", ""] + machine_table(meta, limits)
    out += ["", "## sluice ÷ Apache Kafka (same class, client and workload; "
            "throughput: higher is better, latency: lower is better)", ""]
    out += kafka_table(rows)
    out += ["", "## Produce: maximum rate, every message acknowledged", ""]
    out += produce_table(rows)
    out += ["", "## Consume: reading back the backlog (page-cache class)", ""]
    out += consume_table(rows, limits)
    out += ["", "## Latency at a glance: 100 B, 1 partition, open loop", ""]
    out += latency_glance(rows)
    out += ["", "## Latency: open-loop produce at a fixed rate, tailing consumer", ""]
    out += latency_table(rows)
    out += ["", "## A synchronous producer: one message in flight, 1k msgs/s, 100 B, "
            "1 partition", ""]
    out += sync_table(rows)
    out += ["", "## Loop turns of a durable shard at 100k msgs/s, segments rolling", ""]
    out += turns_table(rows)
    out += ["", "## Exactly-once: idempotent and transactional producers, read_committed", ""]
    import eos_rows
    out += eos_rows.summary(rows, limits)
    out += ["", "## CPU during produce (client = load generator, % of one core)", ""]
    out += cpu_table(rows)
    if failed:
        out += ["", "## Failed runs", ""]
        out += [f"- {r['system']} {r['durability']} {r.get('client')} {r['workload']} "
                f"{r.get('size')} B p{r.get('partitions')} {r.get('rate')}: {r.get('log')}"
                for r in failed]
    return "\n".join(out) + "\n"


# --- plots ---------------------------------------------------------------

def bar_plot(ax, rows, workload, durability, metric, title, ylabel, limit=None):
    keys = [k for k in SYSTEMS if any(r.get("system") == k[0] and r.get("client") == k[1]
                                      and r.get("workload") == workload
                                      and r.get("durability") == durability for r in rows)]
    combos = [(s, p) for d, s, p in groups(rows, workload) if d == durability]
    if not combos or not keys:
        ax.set_visible(False)
        return
    width = 0.8 / len(keys)
    for i, (s, c) in enumerate(keys):
        vals = []
        for size, parts in combos:
            r = one(rows, system=s, client=c, workload=workload, durability=durability,
                    size=size, partitions=parts)
            vals.append(r.get(metric, 0) if r else 0)
        xs = [j + (i - (len(keys) - 1) / 2) * width for j in range(len(combos))]
        ax.bar(xs, vals, width, label=label(s, c), color=f"C{SYSTEMS.index((s, c))}")
    if limit:
        ax.axhline(limit[1], color="black", linestyle="--", linewidth=1, label=limit[0])
    ax.set_xticks(range(len(combos)))
    ax.set_xticklabels([f"{s} B, {p} part." for s, p in combos])
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7)


def read_hist(path):
    pts = []
    try:
        with open(path) as f:
            for row in csv.DictReader(f):
                p, v = float(row["percentile"]), float(row["latency_us"])
                if p < 100:
                    pts.append((-math.log10(1 - p / 100), max(v, 0.1)))
    except (OSError, KeyError, ValueError):
        return []
    return pts


def latency_plots(plt, out, rows):
    paths = []
    lat = [r for r in rows if r.get("workload") == "latency" and r.get("ok")]
    for dur, size, parts in sorted({(r["durability"], r["size"], r["partitions"]) for r in lat}):
        rates = sorted({r["rate"] for r in lat if (r["durability"], r["size"], r["partitions"])
                        == (dur, size, parts)})
        n = len(rates)
        cols = min(n, 3)
        fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(5 * cols, 3.6 * ((n + cols - 1) // cols)),
                                 squeeze=False)
        for ax, rate in zip(axes.flat, rates):
            for r in lat:
                if (r["durability"], r["size"], r["partitions"], r["rate"]) != (dur, size, parts, rate):
                    continue
                name = f"{r['system']}-{r['client']}-{dur}-{size}b-p{parts}-r{rate}"
                color = f"C{SYSTEMS.index((r['system'], r['client']))}"
                for kind, style in (("e2e", "-"), ("ack", "--")):
                    pts = read_hist(os.path.join(out, "hist", f"{name}-{kind}.csv"))
                    if pts:
                        ax.plot([p for p, _ in pts], [v for _, v in pts], style, color=color,
                                label=f"{label(r['system'], r['client'])} "
                                      f"{'produce→consume' if kind == 'e2e' else 'ack'}"
                                      f"{'' if r.get('sustained') else ' (fell behind)'}")
            ax.set_yscale("log")
            ax.set_xticks([0, 1, 2, 3, 4, 5])
            ax.set_xticklabels(["0", "90", "99", "99.9", "99.99", "99.999"])
            ax.set_xlabel("percentile")
            ax.set_ylabel("latency (us)")
            ax.set_title(f"{si(rate)} msg/s")
            ax.grid(which="both", alpha=0.3)
            ax.legend(fontsize=6)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        fig.suptitle(f"Latency, {dur}, {size} B, {parts} partition(s), open loop")
        fig.tight_layout()
        path = os.path.join(out, "plots", f"latency_{dur}_{size}b_p{parts}.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def ladder_plot(plt, out, rows):
    lat = [r for r in rows if r.get("workload") == "latency" and r.get("ok")]
    if not lat:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    for ax, dur in zip(axes.flat, ("durable", "page-cache")):
        combos = sorted({(r["size"], r["partitions"]) for r in lat})
        for s, c in SYSTEMS:
            for n, (size, parts) in enumerate(combos):
                pts = sorted((r["rate"], r["e2e_p99_us"]) for r in lat
                             if (r["system"], r["client"]) == (s, c) and r["durability"] == dur
                             and r["size"] == size and r["partitions"] == parts
                             and r.get("sustained"))
                if pts:
                    ax.plot([p for p, _ in pts], [v for _, v in pts],
                            ["o-", "s:", "^--", "v-."][n % 4],
                            color=f"C{SYSTEMS.index((s, c))}",
                            label=f"{label(s, c)} {size} B p{parts}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rate (msg/s, sustained)")
        ax.set_ylabel("produce→consume p99 (us)")
        ax.set_title(dur)
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    path = os.path.join(out, "plots", "latency_p99_by_rate.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


def plots(out, rows, limits):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), squeeze=False)
    bar_plot(axes[0][0], rows, "produce", "durable", "msgs_s",
             "Produce, durable (fsync before ack)", "msgs/s")
    bar_plot(axes[0][1], rows, "produce", "page-cache", "msgs_s",
             "Produce, page cache", "msgs/s")
    fig.tight_layout()
    paths.append(os.path.join(out, "plots", "produce.png"))
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)

    loop = limits.get("loopback", {}).get("loopback_mb_s")
    fig, axes = plt.subplots(1, 1, figsize=(7, 4.5), squeeze=False)
    bar_plot(axes[0][0], rows, "consume", "page-cache", "mb_s", "Consume of a backlog",
             "MB/s", limit=("loopback TCP", loop) if loop else None)
    fig.tight_layout()
    paths.append(os.path.join(out, "plots", "consume.png"))
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)
    return paths + latency_plots(plt, out, rows) + ladder_plot(plt, out, rows)
