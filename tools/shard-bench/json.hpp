#pragma once
// A small JSON value with a writer and a parser: shard-bench's --json output, and the
// machine files of its cost model. No dependency.
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace bench::json {

class value {
 public:
  enum class kind { null, boolean, number, string, array, object };

  value() = default;
  value(std::nullptr_t) {}
  value(bool b) : kind_(kind::boolean), bool_(b) {}
  value(double d) : kind_(kind::number), number_(d) {}
  value(int i) : value(static_cast<double>(i)) {}
  value(long i) : value(static_cast<double>(i)) {}
  value(long long i) : value(static_cast<double>(i)) {}
  value(unsigned i) : value(static_cast<double>(i)) {}
  value(unsigned long i) : value(static_cast<double>(i)) {}
  value(unsigned long long i) : value(static_cast<double>(i)) {}
  value(const char* s) : kind_(kind::string), string_(s) {}
  value(std::string s) : kind_(kind::string), string_(std::move(s)) {}
  template <class T>
  value(const std::vector<T>& items) : kind_(kind::array) {
    for (const auto& x : items) array_.emplace_back(x);
  }

  static value array() { value v; v.kind_ = kind::array; return v; }
  static value object() { value v; v.kind_ = kind::object; return v; }

  kind type() const noexcept { return kind_; }
  bool is_null() const noexcept { return kind_ == kind::null; }
  bool is_number() const noexcept { return kind_ == kind::number; }
  bool is_string() const noexcept { return kind_ == kind::string; }
  bool is_array() const noexcept { return kind_ == kind::array; }
  bool is_object() const noexcept { return kind_ == kind::object; }

  double as_number() const { expect(kind::number, "a number"); return number_; }
  bool as_bool() const { expect(kind::boolean, "true or false"); return bool_; }
  const std::string& as_string() const { expect(kind::string, "a string"); return string_; }
  const std::vector<value>& items() const { expect(kind::array, "an array"); return array_; }
  const std::vector<std::pair<std::string, value>>& members() const { expect(kind::object, "an object"); return object_; }

  /// Appends to an array.
  value& push(value v) { expect(kind::array, "an array"); array_.push_back(std::move(v)); return array_.back(); }
  /// Object member, created (in insertion order) if absent.
  value& operator[](const std::string& key) {
    if (kind_ == kind::null) kind_ = kind::object;
    expect(kind::object, "an object");
    for (auto& [k, v] : object_)
      if (k == key) return v;
    object_.emplace_back(key, value());
    return object_.back().second;
  }
  bool contains(const std::string& key) const { return find(key) != nullptr; }
  const value* find(const std::string& key) const {
    if (kind_ != kind::object) return nullptr;
    for (auto& [k, v] : object_)
      if (k == key) return &v;
    return nullptr;
  }
  /// Member that must exist.
  const value& at(const std::string& key) const {
    const value* v = find(key);
    if (v == nullptr) throw std::runtime_error("JSON: missing member \"" + key + "\"");
    return *v;
  }
  std::size_t size() const { return kind_ == kind::array ? array_.size() : object_.size(); }

  void write(std::ostream& os, int indent = 0) const {
    const std::string pad(static_cast<std::size_t>(indent) + 2, ' '), end_pad(static_cast<std::size_t>(indent), ' ');
    switch (kind_) {
      case kind::null: os << "null"; break;
      case kind::boolean: os << (bool_ ? "true" : "false"); break;
      case kind::number: write_number(os, number_); break;
      case kind::string: write_string(os, string_); break;
      case kind::array: {
        // Arrays of numbers (matrix rows, sweeps) stay on one line.
        bool flat = true;
        for (auto& v : array_) flat = flat && v.kind_ != kind::array && v.kind_ != kind::object;
        os << '[';
        for (std::size_t i = 0; i < array_.size(); ++i) {
          if (i) os << (flat ? ", " : ",");
          if (!flat) os << '\n' << pad;
          array_[i].write(os, indent + 2);
        }
        if (!flat && !array_.empty()) os << '\n' << end_pad;
        os << ']';
        break;
      }
      case kind::object: {
        os << '{';
        for (std::size_t i = 0; i < object_.size(); ++i) {
          os << (i ? ",\n" : "\n") << pad;
          write_string(os, object_[i].first);
          os << ": ";
          object_[i].second.write(os, indent + 2);
        }
        if (!object_.empty()) os << '\n' << end_pad;
        os << '}';
        break;
      }
    }
  }
  std::string dump() const {
    std::ostringstream os;
    write(os);
    return os.str();
  }

 private:
  void expect(kind k, const char* what) const {
    if (kind_ != k) throw std::runtime_error(std::string("JSON: expected ") + what);
  }
  static void write_number(std::ostream& os, double d) {
    if (!std::isfinite(d)) { os << "null"; return; }  // JSON has no inf/nan
    char buf[32];
    if (d == std::floor(d) && std::fabs(d) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", d);
    else std::snprintf(buf, sizeof buf, "%.6g", d);
    os << buf;
  }
  static void write_string(std::ostream& os, const std::string& s) {
    os << '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': os << "\\\""; break;
        case '\\': os << "\\\\"; break;
        case '\n': os << "\\n"; break;
        case '\t': os << "\\t"; break;
        case '\r': os << "\\r"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            os << buf;
          } else {
            os << c;
          }
      }
    }
    os << '"';
  }

  kind kind_ = kind::null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<value> array_;
  std::vector<std::pair<std::string, value>> object_;
};

/// Parses a JSON text; throws std::runtime_error naming the offset of the first error.
class parser {
 public:
  explicit parser(const std::string& text) : s_(text) {}
  value parse() {
    value v = parse_value();
    skip();
    if (i_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("JSON parse error at offset " + std::to_string(i_) + ": " + what);
  }
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    skip();
    if (i_ < s_.size() && s_[i_] == c) { ++i_; return true; }
    return false;
  }
  void need(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool word(const char* w) {
    const std::string ws(w);
    if (s_.compare(i_, ws.size(), ws) == 0) { i_ += ws.size(); return true; }
    return false;
  }
  value parse_value() {
    skip();
    if (i_ >= s_.size()) fail("unexpected end");
    const char c = s_[i_];
    if (c == '{') {
      ++i_;
      value v = value::object();
      if (eat('}')) return v;
      do {
        skip();
        std::string key = parse_string();
        need(':');
        v[key] = parse_value();
      } while (eat(','));
      need('}');
      return v;
    }
    if (c == '[') {
      ++i_;
      value v = value::array();
      if (eat(']')) return v;
      do v.push(parse_value());
      while (eat(','));
      need(']');
      return v;
    }
    if (c == '"') return value(parse_string());
    if (word("true")) return value(true);
    if (word("false")) return value(false);
    if (word("null")) return value();
    return value(parse_number());
  }
  std::string parse_string() {
    if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c == '\\') {
        if (i_ >= s_.size()) fail("unfinished escape");
        const char e = s_[i_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            if (i_ + 4 > s_.size()) fail("short \\u escape");
            const unsigned code = static_cast<unsigned>(std::stoul(s_.substr(i_, 4), nullptr, 16));
            i_ += 4;
            if (code < 0x80) out += static_cast<char>(code);
            else if (code < 0x800) out += static_cast<char>(0xC0 | (code >> 6)), out += static_cast<char>(0x80 | (code & 0x3F));
            else out += static_cast<char>(0xE0 | (code >> 12)), out += static_cast<char>(0x80 | ((code >> 6) & 0x3F)),
                 out += static_cast<char>(0x80 | (code & 0x3F));
            break;
          }
          default: fail("bad escape");
        }
      } else {
        out += c;
      }
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }
  double parse_number() {
    const std::size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' || s_[i_] == 'e' ||
                              s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-'))
      ++i_;
    if (start == i_ || (i_ == start + 1 && s_[start] == '-')) fail("expected a value");
    try {
      return std::stod(s_.substr(start, i_ - start));
    } catch (const std::exception&) {
      i_ = start;
      fail("bad number");
    }
  }

  const std::string& s_;
  std::size_t i_ = 0;
};

inline value parse(const std::string& text) { return parser(text).parse(); }

}  // namespace bench::json
