/// What a story pipeline does with a late event: one whose time falls in a range already sealed.
/// Neither policy loses an event silently.
public enum LatePolicy: String, Codable, Sendable, Hashable, CaseIterable {
    /// Accept it into a revision chunk of its range (revision 1, 2, …), emitted at the next seal;
    /// counted in ``PipelineStats/lateEvents``. The default.
    case revise
    /// Refuse it: counted in ``PipelineStats/rejectedLateEvents`` and reported in the ``InsertReport``
    /// so the caller can log it and tell the writer.
    case reject
}
