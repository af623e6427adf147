// Pattern: a queue guarded by a mutex and a condition variable (Go's
// sync.Cond, article 002's "advanced coordination").
//
//   var mu sync.Mutex
//   cond := sync.NewCond(&mu)
//   go func() {                       // consumer
//       mu.Lock()
//       for len(queue) == 0 && !closed { cond.Wait() }   // a loop, not an if
//       ...take queue[0]...
//       mu.Unlock()
//   }()
//   mu.Lock(); queue = append(queue, job); mu.Unlock()
//   cond.Signal()                     // wake one waiting consumer
//   mu.Lock(); closed = true; mu.Unlock()
//   cond.Broadcast()                  // wake every consumer: there is no more
//
// What it shows: goro::cond with a goro::mutex. Three producers push 100
// jobs each and signal() one waiter per job; four consumers wait in a loop
// on "a job is there, or the queue is closed" (wait(lock, pred) is that
// loop), so a wake-up that finds the queue emptied by another consumer
// just waits again. close() sets the flag and broadcast()s: one signal
// would wake one consumer, and the others would sleep forever. Every job
// is taken exactly once and all four consumers return.
//
// wait() takes the lock as an argument (as std::condition_variable_any),
// so it is a std::unique_lock<goro::mutex>: wait unlocks it while parked
// and locks it again before returning. A waiting goroutine parks
// ([sync.Cond.Wait] in dumps); signal() and broadcast() never block and
// need not hold the lock.
//
// Pitfall avoided: `if (q.empty()) wait()` instead of the loop takes from
// an empty queue when two consumers wake for one job; and a close without
// broadcast leaves consumers parked (the runtime would report the
// deadlock). A channel is usually simpler (05_buffered_work_queue); a cond
// fits when the condition is on state a channel cannot express.
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "goro/goro.hpp"

class job_queue {
 public:
  void put(int job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(job);
    }
    ready_.signal();  // one job: wake one consumer
  }
  // The next job, or nullopt once the queue is closed and empty.
  std::optional<int> take() {
    std::unique_lock lock(mu_);
    ready_.wait(lock, [this] { return !jobs_.empty() || closed_; });  // for empty && !closed { Wait() }
    if (jobs_.empty()) return std::nullopt;  // closed and drained
    int j = jobs_.front();
    jobs_.pop_front();
    return j;
  }
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    ready_.broadcast();  // every consumer must see it
  }

 private:
  goro::mutex mu_;
  goro::cond ready_;
  std::deque<int> jobs_;  // guarded by mu_
  bool closed_ = false;   // guarded by mu_
};

int main() {
  return goro::run([] {
    job_queue q;
    constexpr int kProducers = 3, kJobs = 100, kConsumers = 4;

    // Each consumer reports {jobs taken, their sum} when it returns.
    auto totals = goro::make_chan<std::pair<long, long>>(kConsumers);  // room for every consumer
    goro::wait_group consumers;
    for (int c = 0; c < kConsumers; c++)
      consumers.go([&q, totals] {
        long taken = 0, sum = 0;
        while (std::optional<int> j = q.take()) {
          taken++;
          sum += *j;
        }
        totals.send({taken, sum});
      });

    goro::wait_group producers;
    for (int p = 0; p < kProducers; p++)
      producers.go([&q, p] {
        for (int i = 1; i <= kJobs; i++) q.put(p * kJobs + i);  // jobs 1..300
      });
    producers.wait();
    q.close();        // after the last put: consumers drain, then return
    consumers.wait();  // would never return without the broadcast

    totals.close();
    long taken = 0, sum = 0;
    int returned = 0;
    for (auto [n, s] : totals) {
      taken += n;
      sum += s;
      returned++;
    }
    std::printf("jobs taken: %ld of %d, sum %ld (want %d): each exactly once\n", taken, kProducers * kJobs, sum,
                kProducers * kJobs * (kProducers * kJobs + 1) / 2);
    std::printf("consumers returned after close's broadcast: %d of %d\n", returned, kConsumers);
  });
}
