// mime/gmime.hpp — GMime 3, loaded at run time. Only multidrop accounts and the rare 8-bit
// message to a server without 8BITMIME need it, and linking it makes every daemon load and
// relocate it with GLib, GObject, GIO, GPGME, libidn2, libunistring, libmount, libblkid,
// libselinux and more at start: about 3.4 MiB of resident memory (measured on Debian 12) that most
// homes never use. The functions are looked up by name into typed pointers (decltype of the
// header's own declarations, so a mismatch fails to compile), as systemd does for its optional
// libraries. The daemon loads it at start when the config has a multidrop account, so a missing
// library is then an error at start.
#pragma once

#include <memory>

#include <gmime/gmime.h>

namespace mk {

#define MK_GMIME_FUNCTIONS(X)                                                                          \
    X(g_mime_init)                                                                                     \
    X(g_mime_parser_options_new)                                                                       \
    X(g_mime_parser_options_free)                                                                      \
    X(g_mime_parser_options_set_address_compliance_mode)                                               \
    X(g_mime_parser_options_set_rfc2047_compliance_mode)                                               \
    X(g_mime_parser_options_set_allow_addresses_without_domain)                                        \
    X(g_mime_parser_options_set_warning_callback)                                                      \
    X(g_mime_stream_mem_new_with_buffer)                                                               \
    X(g_mime_parser_new_with_stream)                                                                   \
    X(g_mime_parser_set_format)                                                                        \
    X(g_mime_parser_construct_message)                                                                 \
    X(g_mime_object_get_header_list)                                                                   \
    X(g_mime_header_list_get_count)                                                                    \
    X(g_mime_header_list_get_header_at)                                                                \
    X(g_mime_header_get_name)                                                                          \
    X(g_mime_header_get_raw_value)                                                                     \
    X(internet_address_list_parse)                                                                     \
    X(internet_address_list_length)                                                                    \
    X(internet_address_list_get_address)                                                               \
    X(internet_address_mailbox_get_type)                                                               \
    X(internet_address_mailbox_get_addr)                                                               \
    X(internet_address_mailbox_get_idn_addr)                                                           \
    X(internet_address_group_get_type)                                                                 \
    X(internet_address_group_get_members)                                                              \
    X(g_type_check_instance_is_a)                                                                      \
    X(g_object_unref)                                                                                  \
    X(g_mime_stream_fs_new)                                                                            \
    X(g_mime_stream_substream)                                                                         \
    X(g_mime_stream_flush)                                                                             \
    X(g_mime_object_encode)                                                                            \
    X(g_mime_object_write_to_stream)                                                                   \
    X(g_mime_format_options_new)                                                                       \
    X(g_mime_format_options_set_newline_format)                                                        \
    X(g_mime_format_options_free)

// Gmime - the loaded library's functions, one member per name in MK_GMIME_FUNCTIONS.
struct Gmime {
#define MK_GMIME_MEMBER(name) decltype(&::name) name = nullptr;
    MK_GMIME_FUNCTIONS(MK_GMIME_MEMBER)
#undef MK_GMIME_MEMBER
    Gmime();   // dlopen, dlsym, g_mime_init; throws std::runtime_error
};

// gmime - the library, loaded on the first call (thread-safe; a failed load is tried again next
// time). Throws std::runtime_error when it cannot be loaded.
const Gmime& gmime();

// GMime objects are reference-counted GObjects; these release them on every path out.
struct Unref {
    void operator()(gpointer p) const {
        if (p) gmime().g_object_unref(p);
    }
};
template <typename T>
using Ref = std::unique_ptr<T, Unref>;
struct FreeParserOptions {
    void operator()(GMimeParserOptions* o) const { gmime().g_mime_parser_options_free(o); }
};
using ParserOptions = std::unique_ptr<GMimeParserOptions, FreeParserOptions>;
struct FreeFormatOptions {
    void operator()(GMimeFormatOptions* o) const { gmime().g_mime_format_options_free(o); }
};
using FormatOptions = std::unique_ptr<GMimeFormatOptions, FreeFormatOptions>;

}  // namespace mk
