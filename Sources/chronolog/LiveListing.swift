import ChronoClient
import ChronoModel
import Foundation

/// `chronolog ls --live`: the chronicles and stories a running service knows, each story's
/// recording state and its events so far.
struct LiveListing {
    let options: LiveServiceOptions
    let json: Bool

    struct Story: Encodable {
        let chronicle: String
        let story: String
        let recording: Bool
        let events: UInt64
    }

    func run() throws {
        let service = try LiveService(options)
        defer { service.close() }
        var stories: [Story] = []
        do throws(ChronoLogError) {
            for chronicle in try service.client.showChronicles().sorted() {
                for story in try service.client.showStories(chronicle).sorted() {
                    var count: UInt64 = 0
                    let outcome = try service.client.replayStory(chronicle, story, from: 0, to: .max) {
                        (chunk: StoryChunk) throws(ChronoLogError) in count += UInt64(chunk.count)
                    }
                    stories.append(Story(chronicle: chronicle, story: story, recording: outcome.isRecording, events: count))
                }
            }
        } catch {
            throw ChronologFailure(path: service.attached.runDirectory.path, problem: "\(error) (code \(error.returnCode.rawValue))")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(["stories": stories]), as: UTF8.self))
            return
        }
        print("\(service.attached.runDirectory.path): \(Set(stories.map(\.chronicle)).count) chronicle(s), \(stories.count) stor\(stories.count == 1 ? "y" : "ies") (live)")
        for s in stories {
            print("  \(s.chronicle)/\(s.story): \(s.recording ? "recording" : "idle"), \(s.events) events")
        }
    }
}
