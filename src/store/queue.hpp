// store/queue.hpp — reading the queue directory: queue/<id>.eml (the message) and queue/<id>.env
// (its envelope, the ready marker). Only the intake writes here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "store/envelope.hpp"

namespace mk {

struct QueueEntry {
    Envelope envelope;
    std::filesystem::path message;
    std::uint64_t size = 0;
};

struct QueueListing {
    std::vector<QueueEntry> entries;         // oldest first
    std::vector<std::string> damaged;        // envelopes that could not be read, by file name
};

QueueListing list_queue(const std::filesystem::path& data_dir);

}  // namespace mk
