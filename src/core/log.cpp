// core/log.cpp — spdlog on stderr, one line per event whatever the message holds.
#include "core/log.hpp"

#include <cstdio>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "core/text.hpp"

namespace mk {

namespace {

// PrintableStderrSink - stderr, with every message passed through printable(): log lines quote
// what clients and remote servers sent (EHLO names, logins, replies), and none of it may start a
// line of its own or put raw bytes in front of the admin (Postfix's printable() at each call;
// here once, for every call).
class PrintableStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        std::string clean = printable(std::string_view(msg.payload.data(), msg.payload.size()));
        spdlog::details::log_msg safe = msg;
        safe.payload = clean;
        spdlog::memory_buf_t line;
        formatter_->format(safe, line);
        std::fwrite(line.data(), 1, line.size(), stderr);
    }
    void flush_() override { std::fflush(stderr); }
};

}  // namespace

void init_logging(bool verbose) {
    auto logger = std::make_shared<spdlog::logger>("mailkeep", std::make_shared<PrintableStderrSink>());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
    logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

}  // namespace mk
