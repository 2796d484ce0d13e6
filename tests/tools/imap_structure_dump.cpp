// tests/tools/imap_structure_dump.cpp — test-only: what imap/structure makes of a message file, for the
// differential test against Dovecot (tests/blackbox/test_imap_structure_dovecot.py). The file is read
// as it is (the test gives it CRLF line ends, as the Maildir holds them).
//
// Output: records "NAME LENGTH\n" followed by LENGTH octets and "\n". NAME is ENVELOPE, BODYSTRUCTURE,
// BODY, or a FETCH section: BODY[HEADER], BODY[TEXT], BODY[HEADER.FIELDS (...)], BODY[1.2],
// BODY[1.2.MIME], BODY[2.HEADER], BODY[2.TEXT], BINARY[1.2] (absent when decoded() refuses; then a
// record "NOBINARY[1.2] 0").
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "imap/structure.hpp"

namespace {

void record(const std::string& name, const std::string& data) {
    std::cout << name << ' ' << data.size() << '\n' << data << '\n';
}

std::string path_text(const std::vector<std::uint32_t>& path) {
    std::string s;
    for (auto n : path) s += (s.empty() ? "" : ".") + std::to_string(n);
    return s;
}

bool is_message(const mk::imap::BodyPart& p) { return p.type == "message" && p.parts.size() == 1; }

// sections - every part number of the tree below p (reached as path), with its sections.
void sections(const mk::imap::BodyPart& root, const mk::imap::BodyPart& p, std::vector<std::uint32_t> path,
              std::string_view m) {
    const mk::imap::BodyPart* container = &p;
    if (!path.empty() && is_message(p)) container = &p.parts[0];
    std::vector<std::vector<std::uint32_t>> children;
    if (container->has_content_type && container->type == "multipart") {
        for (std::uint32_t i = 1; i <= std::max<std::size_t>(container->parts.size(), 1); ++i) {
            auto c = path;
            c.push_back(i);
            children.push_back(c);
        }
    } else if (path.empty() || is_message(p)) {
        auto c = path;
        c.push_back(1);
        children.push_back(c);
    }
    for (const auto& c : children) {
        const mk::imap::BodyPart* part = mk::imap::find(root, c);
        if (part == nullptr) {
            // a part that is not there: the session answers an empty string (as Dovecot does)
            record("BODY[" + path_text(c) + "]", "");
            record("BODY[" + path_text(c) + ".MIME]", "");
            continue;
        }
        std::string name = path_text(c);
        record("BODY[" + name + "]", std::string(part->body.of(m)));
        record("BODY[" + name + ".MIME]", std::string(part->header.of(m)));
        if (is_message(*part)) {
            record("BODY[" + name + ".HEADER]", std::string(part->parts[0].header.of(m)));
            record("BODY[" + name + ".TEXT]", std::string(part->parts[0].body.of(m)));
        }
        if (part->type != "multipart" && !is_message(*part)) {
            auto d = mk::imap::decoded(*part, m);
            if (d) record("BINARY[" + name + "]", *d);
            else record("NOBINARY[" + name + "]", "");
        }
        if (part != &p) sections(root, *part, c, m);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: imap_structure_dump FILE\n";
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        std::cerr << "cannot read " << argv[1] << '\n';
        return 1;
    }
    std::string m((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    mk::imap::BodyPart root = mk::imap::parse(m);
    std::string_view header = root.header.of(m);
    record("ENVELOPE", mk::imap::envelope(header));
    record("BODYSTRUCTURE", mk::imap::body_structure(root, m, true));
    record("BODY", mk::imap::body_structure(root, m, false));
    record("BODY[HEADER]", std::string(header));
    record("BODY[TEXT]", std::string(root.body.of(m)));
    record("BODY[HEADER.FIELDS (FROM SUBJECT CONTENT-TYPE)]",
           mk::imap::header_fields(header, {"From", "subject", "CONTENT-type"}, false));
    record("BODY[HEADER.FIELDS.NOT (RECEIVED SUBJECT)]", mk::imap::header_fields(header, {"received", "Subject"}, true));
    sections(root, root, {}, m);
    for (const char* name : {"subject", "from", "to"}) {
        auto v = mk::imap::header_value(header, name);
        record(std::string("HEADER_VALUE ") + name, v ? *v : std::string("\x01NONE"));
    }
    return 0;
}
