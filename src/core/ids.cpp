// core/ids.cpp — queue id generation.
#include "core/ids.hpp"

#include <chrono>
#include <random>

#include <fmt/format.h>

namespace mk {

std::string new_queue_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch()).count();
    return fmt::format("{:09X}{:07X}", static_cast<unsigned long long>(us) & 0xFFFFFFFFFull,
                       rng() & 0xFFFFFFFull);
}

}  // namespace mk
