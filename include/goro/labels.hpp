// Goroutine labels: key/value strings a goroutine carries, shown in
// goroutine dumps, as Go's pprof labels (pprof.Do, pprof.WithLabels,
// pprof.SetGoroutineLabels) show in its goroutine profile. Label the
// goroutines of a request, a tenant or a pipeline stage, and a dump of
// thousands of goroutines says which is which:
//
//   goro::do_with_labels(ctx, {{"handler", "checkout"}, {"request", id}}, [&](const goro::context& ctx) {
//     handle(ctx, req);          // this goroutine, and those it starts, carry the labels
//   });
//
//   goroutine 42 [chan receive]:
//   	labels: {"handler":"checkout", "request":"r-17"}
//   ...
//
// Labels live in a context (with_labels adds to the parent's, replacing
// keys it names again) and are set on the calling goroutine from one
// (set_goroutine_labels); a goroutine starts with the labels of the
// goroutine that called go(). Goroutines without labels cost nothing; a
// labelled spawn costs one atomic increment. Label sets are immutable and
// shared, so a context or a goroutine keeps its set as long as it needs it.
// Every function may be called from goroutines and plain threads; on a
// plain thread, which has no goroutine labels, set_goroutine_labels does
// nothing and goroutine_labels() is empty.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "goro/context.hpp"

namespace goro {

// One label: key and value.
using label = std::pair<std::string, std::string>;

// parent with labels added (a key already in parent's labels takes the new
// value), as Go's pprof.WithLabels. Throws std::bad_alloc.
//
//   auto ctx = goro::with_labels(parent, {{"tenant", "acme"}});
context with_labels(const context& parent, std::initializer_list<std::pair<std::string_view, std::string_view>> labels);
context with_labels(const context& parent, const std::vector<label>& labels);

// The labels ctx carries, sorted by key (Go's pprof.ForLabels).
std::vector<label> labels(const context& ctx);

// The value of one of ctx's labels (Go's pprof.Label).
std::optional<std::string> label_value(const context& ctx, std::string_view key);

// Sets the calling goroutine's labels to ctx's (Go's
// pprof.SetGoroutineLabels): dumps show them, and goroutines it starts
// from now on inherit them. No effect on a plain thread.
void set_goroutine_labels(const context& ctx);

// The calling goroutine's labels, sorted by key; empty on a plain thread.
std::vector<label> goroutine_labels();

// Go's pprof.Do: calls f(with_labels(ctx, labels)) with the calling
// goroutine's labels set to that context's, and puts the goroutine's
// previous labels back when f returns or throws.
template <class F>
void do_with_labels(const context& ctx, std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                    F&& f);

namespace detail {

// The calling goroutine's label set, as an opaque counted reference (null:
// none), so that do_with_labels can put it back.
class goroutine_label_scope {
 public:
  goroutine_label_scope();  // saves the current set
  ~goroutine_label_scope();  // restores it
  goroutine_label_scope(const goroutine_label_scope&) = delete;
  goroutine_label_scope& operator=(const goroutine_label_scope&) = delete;

 private:
  void* saved_;
};

}  // namespace detail

template <class F>
void do_with_labels(const context& ctx, std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                    F&& f) {
  context labelled = with_labels(ctx, labels);
  detail::goroutine_label_scope restore;
  set_goroutine_labels(labelled);
  std::forward<F>(f)(labelled);
}

}  // namespace goro
