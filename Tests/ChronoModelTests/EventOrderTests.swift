import PropertyBased
import Testing
@testable import ChronoModel

@Suite struct EventOrderTests {
    @Test func orderIsTotalAndConsistentWithEquality() async throws {
        await propertyCheck(count: 2000, input: Gens.event, Gens.event) { a, b in
            let lt = a.key < b.key
            let gt = b.key < a.key
            let eq = a.key == b.key
            // Exactly one of <, >, == holds.
            #expect([lt, gt, eq].filter { $0 }.count == 1)
            #expect(eq == (a.time == b.time && a.clientId == b.clientId && a.index == b.index))
            // The record record takes no part in the order.
            var c = b
            c.record = a.record + [1]
            #expect((a.key < c.key) == lt)
            // Records order the same way as keys.
            let ra = EventRecord(time: a.time, clientId: a.clientId.rawValue, index: a.index, length: 0, offset: 0)
            let rb = EventRecord(time: b.time, clientId: b.clientId.rawValue, index: b.index, length: 9, offset: 3)
            #expect(EventRecord.precedes(ra, rb) == lt)
            #expect(EventRecord.sameKey(ra, rb) == eq)
        }
    }

    @Test func orderIsTransitive() async throws {
        await propertyCheck(count: 2000, input: Gens.event, Gens.event, Gens.event) { a, b, c in
            if a.key < b.key && b.key < c.key { #expect(a.key < c.key) }
            if a.key == b.key && b.key == c.key { #expect(a.key == c.key) }
            if !(b.key < a.key) && !(c.key < b.key) { #expect(!(c.key < a.key)) }
        }
    }

    @Test func timeThenClientThenIndex() {
        let k = { (t: UInt64, c: UInt64, i: UInt32) in EventKey(time: t, clientId: ClientID(c), index: i) }
        #expect(k(1, 9, 9) < k(2, 0, 0))
        #expect(k(1, 1, 9) < k(1, 2, 0))
        #expect(k(1, 1, 1) < k(1, 1, 2))
        #expect(!(k(1, 1, 1) < k(1, 1, 1)))
    }

    @Test func eventRecordMatchesWireLayoutHere() {
        #expect(MemoryLayout<EventRecord>.stride == EventRecord.byteSize)
        #expect(EventRecord.hasNativeWireLayout)
    }
}
