// logging_app.cpp — the C++ twin of examples/c/logging_app.c: an MPI application computing with
// its own communicator (an MPI_Allreduce per step) while logging through libchronolog.
//
// Build (from the package root, after `swift build`):
//   B=$(swift build --show-bin-path)
//   mpicxx -std=c++17 -I Sources/CChronoLog/include examples/cpp/logging_app.cpp -o logging_app_cpp
//          -L $B -lChronoLog -Wl,-rpath,$B        (one line)
// Run MPMD:  mpirun -n 4 $B/chronolog-job --workload none : -n 2 ./logging_app_cpp [steps]
// Embedded:  mpirun -n 6 ./logging_app_cpp --embedded [steps]   (4 of the 6 ranks serve)
// Same records and output lines as the C example (step=<i> sum=<s>; ALLREDUCE, LOGGED, DURABLE).
#include <chronolog.h>
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

/// A ChronoLog code other than CL_SUCCESS, as an exception.
struct ChronoError : std::runtime_error {
    int code;
    ChronoError(const std::string &call, int rc)
        : std::runtime_error(call + ": " + chronolog_code_name(rc) + " (" + chronolog_strerror(rc) + ")"), code(rc) {}
};

void check(const char *call, int rc) {
    if (rc != CL_SUCCESS) throw ChronoError(call, rc);
}

/// A connected client, disconnected when it goes out of scope.
class Client {
  public:
    explicit Client(int mode) { check("chronolog_connect", chronolog_connect(mode, &client_)); }
    ~Client() { chronolog_disconnect(client_); }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;
    chronolog_client *get() const { return client_; }

  private:
    chronolog_client *client_ = nullptr;
};

/// An acquired story, released when it goes out of scope.
class Story {
  public:
    Story(const Client &client, std::string chronicle, std::string name)
        : client_(client), chronicle_(std::move(chronicle)), name_(std::move(name)) {
        check("chronolog_acquire_story", chronolog_acquire_story(client_.get(), chronicle_.c_str(), name_.c_str(), nullptr,
                                                                 nullptr, 0, 0, &story_));
    }
    ~Story() { chronolog_release_story(client_.get(), chronicle_.c_str(), name_.c_str()); }
    Story(const Story &) = delete;
    Story &operator=(const Story &) = delete;

    /// Logs `record`; returns its timestamp.
    uint64_t log(const std::string &record) {
        uint64_t time = 0;
        check("chronolog_log", chronolog_log(story_, record.data(), record.size(), &time));
        return time;
    }

    /// Waits until every event logged so far is in the archive; returns how many are.
    uint64_t flushDurable() {
        uint64_t durable = 0;
        check("chronolog_flush", chronolog_flush(story_, 1, &durable));
        return durable;
    }

    const std::string &name() const { return name_; }

  private:
    const Client &client_;
    std::string chronicle_, name_;
    chronolog_story *story_ = nullptr;
};

int run(MPI_Comm app, int steps) {
    int rank = 0, size = 0, wrong = 0;
    MPI_Comm_rank(app, &rank);
    MPI_Comm_size(app, &size);
    Client client(CHRONOLOG_WRITER);
    if (rank == 0) {
        const char *keys[] = {"application"}, *values[] = {"logging_app.cpp"};
        int rc = chronolog_create_chronicle(client.get(), "simulation", keys, values, 1, 0);
        if (rc != CL_ERR_CHRONICLE_EXISTS) check("chronolog_create_chronicle", rc);
    }
    MPI_Barrier(app);
    Story story(client, "simulation", "rank-" + std::to_string(rank));
    for (int step = 0; step < steps; step++) {
        long mine = static_cast<long>(rank + 1) * (step + 1), sum = 0;
        MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, app);
        if (sum != static_cast<long>(step + 1) * size * (size + 1) / 2) wrong++;
        story.log("step=" + std::to_string(step) + " sum=" + std::to_string(sum));
    }
    std::printf("ALLREDUCE %s rank=%d steps=%d\n", wrong == 0 ? "ok" : "wrong", rank, steps);
    uint64_t durable = story.flushDurable();
    std::printf("LOGGED\tsimulation\t%s\t%llu\t%d\n", story.name().c_str(),
                static_cast<unsigned long long>(chronolog_client_id(client.get())), steps);
    std::printf("DURABLE %llu\n", static_cast<unsigned long long>(durable));
    std::fflush(stdout);
    return wrong;
}

}  // namespace

int main(int argc, char **argv) {
    const bool embedded = argc > 1 && std::string(argv[1]) == "--embedded";
    int steps = argc > 1 + embedded ? std::atoi(argv[1 + embedded]) : 200, provided = 0, is_client = 1;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm app;
    // Both collective over MPI_COMM_WORLD. Embedded, service ranks return when the clients are done.
    int rc = embedded ? chronolog_init(MPI_COMM_WORLD, nullptr, &app, &is_client) : chronolog_join(nullptr, &app);
    if (rc != CL_SUCCESS || !is_client) {
        if (rc != CL_SUCCESS) std::fprintf(stderr, "logging_app_cpp: joining: %s\n", chronolog_strerror(rc));
        MPI_Finalize();
        return rc == CL_SUCCESS ? 0 : 1;
    }
    int status = 0;
    try {
        status = run(app, steps) == 0 ? 0 : 1;
    } catch (const ChronoError &e) {
        std::fprintf(stderr, "logging_app_cpp: %s\n", e.what());
        status = 1;
    }
    if (chronolog_finalize() != CL_SUCCESS) status = 1;
    MPI_Finalize();
    return status;
}
