// goro::pool<T>: Go's sync.Pool, a cache of allocated but unused objects
// for reuse, shared by every goroutine and thread, that relieves the
// allocator under load.
//
//   goro::pool<std::string> buffers([] { return std::make_unique<std::string>(); });
//
//   void handle(const request& r) {
//     std::unique_ptr<std::string> buf = buffers.get();  // reused, or new
//     buf->clear();
//     render(r, *buf);
//     send(*buf);
//     buffers.put(std::move(buf));  // for the next handler, maybe on another worker
//   }
//
// Thread-safety: get() and put() may be called from any number of
// goroutines and plain threads at once (also inside goro::blocking). An
// object is handed to one get() at a time: put() gives it up, and only the
// get() that returns it may use it until it is put again. Memory model: a
// put(x) happens before the get() that returns x (TSan knows it).
//
// How it scales: each worker (P) has its own small cache, so get() and
// put() on a goroutine touch only that worker's cache line and take no
// lock; a get() whose cache is empty takes from a shared list or
// from the other workers' caches before it makes a new object. Plain
// threads and goroutines inside goro::blocking hold no worker and have no
// cache: put() adds to the shared list, under a short lock, and get()
// takes from that list, then from the workers' caches.
//
// Dropping (Go's pool drops objects at garbage collection; goro has none):
// a pool keeps at most kept_per_proc objects per worker plus kept_shared
// in the shared list; put() into a full pool destroys the object in the
// caller, at once. Nothing is dropped behind the user's back, so an idle
// pool keeps up to that bound until it is destroyed; the destructor
// destroys every object kept. As in Go, callers must assume nothing about
// which object get() returns, or that a put object is ever returned.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace goro {

namespace detail {
// The type-erased pool: keeps void* objects and destroys the ones it drops
// with `destroy` (src/sync/pool.cpp).
class pool_core {
 public:
  using destroy_fn = void (*)(void*);
  static constexpr std::size_t kPerProc = 8;
  static constexpr std::size_t kShared = 64;

  explicit pool_core(destroy_fn destroy);
  ~pool_core();  // destroys every object kept (not while the process exits)
  pool_core(const pool_core&) = delete;
  pool_core& operator=(const pool_core&) = delete;

  // A kept object, now the caller's, or null. Never parks.
  void* get() noexcept;
  // Keeps obj (non-null), or destroys it if the pool is full.
  void put(void* obj) noexcept;

  // Whether the process is exiting (exit() has begun running its
  // handlers and static destructors): a pool destroyed then leaves its
  // state to the OS, because goroutines may still be using it.
  static bool process_exiting() noexcept;

 private:
  struct state;
  state* s_;
};
}  // namespace detail

// A pool of reusable T objects (Go's sync.Pool), handed out as
// std::unique_ptr<T>. See the file comment for thread-safety and the
// dropping policy. Not copyable or movable; destroy it only when no get()
// or put() on it is running, except at the process's exit: a pool at
// namespace scope (Go's `var bufPool = sync.Pool{...}`) is destroyed by
// exit() while goroutines may still use it (run() does not wait for
// them), so then it frees nothing.
template <class T>
class pool {
 public:
  // Makes an object when the pool has none (Go's Pool.New).
  using new_function = std::function<std::unique_ptr<T>()>;

  // Objects kept at most per worker (P) and in the shared list; a put()
  // beyond both destroys its object.
  static constexpr std::size_t kept_per_proc = detail::pool_core::kPerProc;
  static constexpr std::size_t kept_shared = detail::pool_core::kShared;

  // A pool with no new function: get() on an empty pool returns null.
  pool() : core_(&destroy) { ::new (static_cast<void*>(&new_)) new_function(); }
  // A pool whose get() calls new_fn when it has nothing to give.
  //   goro::pool<buffer> p([] { return std::make_unique<buffer>(4096); });
  explicit pool(new_function new_fn) : core_(&destroy) {
    ::new (static_cast<void*>(&new_)) new_function(std::move(new_fn));
  }
  ~pool() {
    if (!detail::pool_core::process_exiting()) new_.~new_function();
  }
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  // An object from the pool (any object put before, on any worker), or,
  // if it has none, new_fn()'s result (null without a new function). The
  // object's state is whatever its last user left. Never parks (the
  // shared list's lock is held for a few instructions); throws only what
  // new_fn throws.
  [[nodiscard]] std::unique_ptr<T> get() {
    if (void* obj = core_.get()) return std::unique_ptr<T>(static_cast<T*>(obj));
    if (new_) return new_();
    return nullptr;
  }

  // Gives obj to the pool for a later get(); a null obj is ignored (as Go's
  // Put(nil)). If the pool is full, obj is destroyed here. Never parks.
  //   pool.put(std::move(buf));
  void put(std::unique_ptr<T> obj) noexcept {
    if (obj) core_.put(obj.release());
  }

 private:
  static void destroy(void* obj) { delete static_cast<T*>(obj); }

  detail::pool_core core_;
  // May be empty; set at construction, then only read. In a union so that
  // ~pool can leave it alive while the process exits (see above).
  union {
    new_function new_;
  };
};

}  // namespace goro
