import Foundation

/// The text output, shaped like IOR's: the options, a line per iteration, "Summary of all tests",
/// then the per-event figures and the CHRONOLOG ratios IOR has no columns for.
extension IORReport {
    /// Pads `cells` into columns of the given widths (left-aligned, two spaces apart).
    static func columns(_ cells: [String], _ widths: [Int]) -> String {
        zip(cells, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }

    static func f(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    /// A count or rate in plain digits (a fraction below 10).
    static func g(_ v: Double) -> String { v >= 10 || v == 0 ? String(format: "%.0f", v) : String(format: "%.2f", v) }

    /// A duration in seconds with sensible digits.
    static func s(_ v: Double) -> String { v >= 1 ? String(format: "%.3f", v) : String(format: "%.6f", v) }

    /// The lines before the first iteration.
    static func header(_ p: IORParameters, ranks: Int, nodes: Int, writers: Int, host: String, began: String, command: [String]) -> String {
        let sharing = p.storyPerRank ? "a story (file) per writer (-F)" : "stories (files) shared by all writers"
        let access = [p.write ? "write" : nil, p.read ? "read" + (!p.readOtherRank ? "" : writers > 1 ? " (another rank's data, -C)"
                                                   : " (-C, but with one writer it reads its own data)") : nil]
            .compactMap { $0 }.joined(separator: ", ")
        return """
            chronolog-bench ior: ChronoLog-Swift next to POSIX, MPI-IO and HDF5 storing the same events
            Began               : \(began)
            Command line        : \(command.joined(separator: " "))
            Machine             : \(host), \(ranks) ranks, \(nodes) recording group(s) (nodes), \(writers) writer(s)
            Options:
            api                 : \(p.apis.map(\.rawValue).joined(separator: ","))
            event size (-t)     : \(p.eventBytes) B + \(p.recordBytes)-B record = \(p.storedEventBytes) B stored
            events per writer   : \(p.eventsPerWriter) (\(Self.f(Double(p.eventsPerWriter * p.storedEventBytes) / 1_048_576, 2)) MiB stored)
            stories (-s)        : \(p.storiesPerWriter) per writer, \(sharing)
            access              : \(access)
            repetitions (-i)    : \(p.iterations)
            stonewall (-D)      : \(p.stonewallSeconds > 0 ? "\(p.stonewallSeconds) s" : "off")
            durable (-e)        : \(p.durable ? "the write phase ends once the events are durable" : "no (made durable after the timed phase)")
            directory (-o)      : \(p.directory)
            baseline buffer     : \(p.bufferBytes) B per story (\(p.eventsPerTransfer) events per I/O call)
            archive page cache  : \(p.archivePageCacheBytes >> 20) MiB of the archive kept per grapher (archive.pageCacheBytes)
            read cache          : \(p.readCache == .cold
                ? "cold: every API's files (CHRONOLOG: the archive) are dropped from the page cache before its read phase"
                : "kept: the baselines' files stay cached whole from their write phase, the archive as its graphers left it") (--read-cache)

            Results:

            """ + columns(rowHeadings, rowWidths) + "\n" + columns(rowHeadings.map { String(repeating: "-", count: $0.count) }, rowWidths)
    }

    static let rowHeadings = ["api", "access", "bw(MiB/s)", "ops/s", "events/s", "open(s)", "wr/rd(s)", "close(s)", "total(s)", "iter"]
    static let rowWidths = [9, 6, 10, 11, 11, 9, 9, 9, 9, 4]

    /// IOR's per-iteration line (iterations counted from 0, as IOR prints them).
    static func line(_ r: IORPhaseRow) -> String {
        columns([r.api.rawValue, r.access.rawValue, f(r.mibPerSecond, 2), g(r.opsPerSecond), g(r.eventsPerSecond),
                 s(r.openSeconds), s(r.ioSeconds), s(r.closeSeconds), s(r.seconds), "\(r.iteration - 1)"]
                + (r.stonewalled ? ["(stonewalled)"] : [])
                + (r.cachedAtStart.map { ["(\(f($0 * 100, 0)) % cached at start)"] } ?? []), rowWidths + [0, 0])
    }

    /// Everything after the last iteration.
    var renderedSummary: String {
        var lines = ["", "Summary of all tests:"]
        let w1 = [9, 9, 10, 10, 10, 10, 11, 11, 11, 11, 9, 6, 4]
        lines.append(Self.columns(["Operation", "API", "Max(MiB)", "Min(MiB)", "Mean(MiB)", "StdDev", "Max(OPs)", "Min(OPs)",
                                   "Mean(OPs)", "StdDev", "Mean(s)", "#Tasks", "reps"], w1))
        for r in summary {
            lines.append(Self.columns([r.access.rawValue, r.api.rawValue, Self.f(r.mibPerSecond.max, 2), Self.f(r.mibPerSecond.min, 2),
                                       Self.f(r.mibPerSecond.mean, 2), Self.f(r.mibPerSecond.stddev, 2), Self.g(r.opsPerSecond.max),
                                       Self.g(r.opsPerSecond.min), Self.g(r.opsPerSecond.mean), Self.g(r.opsPerSecond.stddev),
                                       Self.s(r.meanSeconds), "\(r.writers)", "\(r.iterations)"], w1))
        }
        lines += ["", "Per event (means over the repetitions):"]
        let w2 = [9, 9, 11, 12, 10, 10, 14, 11, 12]
        lines.append(Self.columns(["Operation", "API", "events/s", "call p50(ns)", "p99(ns)", "p99.9(ns)", "durable p50(s)", "p99(s)",
                                   "CPU s/event"], w2))
        for r in summary {
            lines.append(Self.columns([r.access.rawValue, r.api.rawValue, Self.g(r.eventsPerSecond.mean),
                                       r.latencyNs.map { Self.g($0.p50) } ?? "-", r.latencyNs.map { Self.g($0.p99) } ?? "-",
                                       r.latencyNs?.p999.map { Self.g($0) } ?? "-",
                                       r.durableSeconds.map { Self.s($0.p50) } ?? "-", r.durableSeconds.map { Self.s($0.p99) } ?? "-",
                                       String(format: "%.3e", r.cpuSecondsPerEvent)], w2))
        }
        lines += ["", "CHRONOLOG as a ratio of the best baseline of this run:"]
        if ratios.isEmpty {
            lines.append("  (none: the run needs CHRONOLOG and at least one baseline)")
        } else {
            let w3 = [9, 24, 8, 12, 8, 12, 7]
            lines.append(Self.columns(["Operation", "figure", "better", "CHRONOLOG", "best", "its value", "ratio"], w3))
            for r in ratios {
                let format: (Double) -> String = r.figure.hasSuffix(" s") ? { Self.s($0) }
                    : r.figure.hasPrefix("CPU") ? { String(format: "%.3e", $0) } : { Self.g($0) }
                lines.append(Self.columns([r.access.rawValue, r.figure, r.higherIsBetter ? "higher" : "lower", format(r.chronolog),
                                           r.baseline.rawValue, format(r.baselineValue), Self.f(r.ratio, 2)], w3))
            }
        }
        lines += ["", "Finished            : \(finished)"]
        return lines.joined(separator: "\n")
    }
}
