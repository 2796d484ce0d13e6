// store/queue.cpp — the queue as the files say it is; damaged entries are reported, never skipped silently.
#include "store/queue.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace mk {

namespace fs = std::filesystem;

QueueListing list_queue(const fs::path& data_dir) {
    QueueListing out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(data_dir / "queue", ec)) {
        if (e.path().extension() != ".env") continue;
        std::ifstream in(e.path(), std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        auto env = envelope_from_json(text.str());
        fs::path msg = e.path();
        msg.replace_extension(".eml");
        std::error_code size_ec;
        auto size = fs::file_size(msg, size_ec);
        if (!env || size_ec) {
            out.damaged.push_back(e.path().filename().string());
            continue;
        }
        out.entries.push_back(QueueEntry{std::move(*env), msg, size});
    }
    std::sort(out.entries.begin(), out.entries.end(), [](const QueueEntry& a, const QueueEntry& b) {
        return std::tie(a.envelope.received_at, a.envelope.id) < std::tie(b.envelope.received_at, b.envelope.id);
    });
    return out;
}

}  // namespace mk
