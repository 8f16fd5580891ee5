import ArgumentParser
import ChronoModel

/// Chronicle and story names given on the command line, checked by ChronoLog's naming rules
/// before anything is opened: an empty or malformed name is a usage error (exit 64), not "no story".
enum NameArguments {
    static func check(chronicle: String, story: String) throws {
        do { _ = try ChronicleName(chronicle) } catch {
            throw ValidationError("\(error)")
        }
        do { _ = try StoryName(story) } catch {
            throw ValidationError("\(error)")
        }
    }
}
