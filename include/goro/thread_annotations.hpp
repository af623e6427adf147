// Clang thread-safety annotations (Abseil's thread_annotations.h, in goro's
// names): declare which lock guards which data, and clang's
// -Wthread-safety checks at compile time that the lock is held wherever
// the data is touched. Other compilers ignore them (the macros expand to
// nothing), so annotated code builds everywhere.
//
//   class account {
//    public:
//     void deposit(int64_t n) GORO_EXCLUDES(mu_) {
//       goro::mutex_lock lock(mu_);
//       balance_ += n;
//     }
//    private:
//     goro::mutex mu_;
//     int64_t balance_ GORO_GUARDED_BY(mu_) = 0;
//   };
//
// goro::mutex and goro::rwmutex are capabilities, and goro::mutex_lock,
// goro::read_lock and goro::write_lock (mutex.hpp, rwmutex.hpp) are scoped ones; the
// standard guards (std::lock_guard, std::unique_lock) work with them too
// but libstdc++'s carry no annotations, so the analysis cannot see them
// take the lock.
#pragma once

#if defined(__clang__) && defined(__has_attribute)
#if __has_attribute(capability)
#define GORO_THREAD_ANNOTATION_(x) __attribute__((x))
#endif
#endif
#ifndef GORO_THREAD_ANNOTATION_
#define GORO_THREAD_ANNOTATION_(x)
#endif

// On a class: objects of it are capabilities (locks) named `x` in warnings.
#define GORO_CAPABILITY(x) GORO_THREAD_ANNOTATION_(capability(x))
// On a class: an RAII object that holds a capability for its lifetime.
#define GORO_SCOPED_CAPABILITY GORO_THREAD_ANNOTATION_(scoped_lockable)

// On a data member: read or written only while holding `x`.
#define GORO_GUARDED_BY(x) GORO_THREAD_ANNOTATION_(guarded_by(x))
// On a pointer member: what it points to is accessed only while holding `x`.
#define GORO_PT_GUARDED_BY(x) GORO_THREAD_ANNOTATION_(pt_guarded_by(x))
// On a lock member: acquired before / after the given locks.
#define GORO_ACQUIRED_BEFORE(...) GORO_THREAD_ANNOTATION_(acquired_before(__VA_ARGS__))
#define GORO_ACQUIRED_AFTER(...) GORO_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))

// On a function: the caller must hold the locks (exclusively / shared).
#define GORO_REQUIRES(...) GORO_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define GORO_REQUIRES_SHARED(...) GORO_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))
// On a function: it acquires / releases the locks (no arguments: `this`).
#define GORO_ACQUIRE(...) GORO_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define GORO_ACQUIRE_SHARED(...) GORO_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define GORO_RELEASE(...) GORO_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define GORO_RELEASE_SHARED(...) GORO_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
// Generic: releases the locks however they are held, shared or exclusive
// (e.g. a scoped lock's destructor for either kind).
#define GORO_RELEASE_GENERIC(...) GORO_THREAD_ANNOTATION_(release_generic_capability(__VA_ARGS__))
// On a function returning bool: it acquired the locks iff it returned `b`.
#define GORO_TRY_ACQUIRE(...) GORO_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define GORO_TRY_ACQUIRE_SHARED(...) GORO_THREAD_ANNOTATION_(try_acquire_shared_capability(__VA_ARGS__))
// On a function: the caller must not hold the locks (it takes them).
#define GORO_EXCLUDES(...) GORO_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
// On a function: it checks (aborts otherwise) that the lock is held.
#define GORO_ASSERT_CAPABILITY(x) GORO_THREAD_ANNOTATION_(assert_capability(x))
#define GORO_ASSERT_SHARED_CAPABILITY(x) GORO_THREAD_ANNOTATION_(assert_shared_capability(x))
// On a function: it returns a reference to the lock `x`.
#define GORO_RETURN_CAPABILITY(x) GORO_THREAD_ANNOTATION_(lock_returned(x))
// On a function: not analyzed (for code the analysis cannot follow).
#define GORO_NO_THREAD_SAFETY_ANALYSIS GORO_THREAD_ANNOTATION_(no_thread_safety_analysis)
