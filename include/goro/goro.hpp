// goro: Go's concurrency model for C++20. Includes every public header.
//
//   #include <goro/goro.hpp>
//
// See docs/guide.md for a tour and docs/design.md for how it works.
#pragma once

#include <goro/chan.hpp>
#include <goro/cond.hpp>
#include <goro/context.hpp>
#include <goro/debug.hpp>
#include <goro/errc.hpp>
#include <goro/errgroup.hpp>
#include <goro/http.hpp>
#include <goro/io.hpp>
#include <goro/labels.hpp>
#include <goro/lock_order.hpp>
#include <goro/mutex.hpp>
#include <goro/net.hpp>
#include <goro/once.hpp>
#include <goro/panic.hpp>
#include <goro/pool.hpp>
#include <goro/rate.hpp>
#include <goro/runtime.hpp>
#include <goro/rwmutex.hpp>
#include <goro/select.hpp>
#include <goro/signal.hpp>
#include <goro/semaphore.hpp>
#include <goro/singleflight.hpp>
#include <goro/stats.hpp>
#include <goro/source_location.hpp>
#include <goro/sync_map.hpp>
#include <goro/thread_annotations.hpp>
#include <goro/time.hpp>
#include <goro/timer.hpp>
#include <goro/trace.hpp>
#include <goro/version.hpp>
#include <goro/wait_group.hpp>
