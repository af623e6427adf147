// goro/labels.hpp: label sets in contexts and on goroutines. The sets
// themselves (counting, the dump's read rule) are sched/labels.cpp's.
#include "goro/labels.hpp"

#include <algorithm>
#include <utility>

#include "sched/g.hpp"
#include "sched/labels.hpp"
#include "sched/sched.hpp"

namespace goro {

namespace detail {
namespace {

// A context's reference to a set (the value under labels_key).
class label_ref {
 public:
  explicit label_ref(label_set* s) noexcept : s_(s) {}
  label_ref(label_ref&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  label_ref(const label_ref&) = delete;
  label_ref& operator=(const label_ref&) = delete;
  ~label_ref() { labels_unref(s_); }
  label_set* get() const noexcept { return s_; }

 private:
  label_set* s_;
};

constexpr context_key<label_ref> labels_key;

label_set* set_of(const context& ctx) noexcept {
  const label_ref* r = ctx.value(labels_key);
  return r != nullptr ? r->get() : nullptr;
}

// The calling goroutine, or null on a plain thread.
g* self() noexcept {
  m* mp = current_m();
  return mp != nullptr ? mp->curg : nullptr;
}

// parent's labels with `add` put in (new keys added, existing ones
// replaced), as a new context.
template <class Pairs>
context merged(const context& parent, const Pairs& add) {
  auto* s = new label_set;
  // Owns s from here: if anything below throws, s is unreferenced once
  // (by ref, or, once moved into the context's value, by with_value, which
  // destroys the value it could not store).
  label_ref ref(s);
  if (label_set* base = set_of(parent)) s->kv = base->kv;
  for (const auto& [k, v] : add) {
    auto it = std::lower_bound(s->kv.begin(), s->kv.end(), k,
                               [](const goro::label& l, const auto& key) { return l.first < key; });
    if (it != s->kv.end() && it->first == k)
      it->second = std::string(v);
    else
      s->kv.insert(it, goro::label(std::string(k), std::string(v)));
  }
  return with_value(parent, labels_key, std::move(ref));
}

}  // namespace

goroutine_label_scope::goroutine_label_scope() {
  g* gp = self();
  saved_ = gp != nullptr ? labels_ref(labels_of_self(gp)) : nullptr;
}

goroutine_label_scope::~goroutine_label_scope() {
  g* gp = self();  // the same goroutine, perhaps on another thread now
  if (gp != nullptr)
    labels_replace(gp, static_cast<label_set*>(saved_));  // gives it our reference
  else
    labels_unref(static_cast<label_set*>(saved_));
}

}  // namespace detail

context with_labels(const context& parent, std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  return detail::merged(parent, labels);
}

context with_labels(const context& parent, const std::vector<label>& labels) {
  return detail::merged(parent, labels);
}

std::vector<label> labels(const context& ctx) {
  detail::label_set* s = detail::set_of(ctx);
  return s != nullptr ? s->kv : std::vector<label>{};
}

std::optional<std::string> label_value(const context& ctx, std::string_view key) {
  detail::label_set* s = detail::set_of(ctx);
  if (s == nullptr) return std::nullopt;
  for (const label& l : s->kv)
    if (l.first == key) return l.second;
  return std::nullopt;
}

void set_goroutine_labels(const context& ctx) {
  detail::g* gp = detail::self();
  if (gp == nullptr) return;
  detail::labels_replace(gp, detail::labels_ref(detail::set_of(ctx)));
}

std::vector<label> goroutine_labels() {
  detail::g* gp = detail::self();
  if (gp == nullptr) return {};
  detail::label_set* s = detail::labels_of_self(gp);
  return s != nullptr ? s->kv : std::vector<label>{};
}

}  // namespace goro
