// Pattern: buffered work queue -- a fixed pool of workers ranging over a
// buffered jobs channel, a results channel, and close(jobs) to finish.
//
//   jobs := make(chan Order, len(orders))
//   results := make(chan Result, len(orders))
//   for i := 0; i < 4; i++ {
//       go func() { for o := range jobs { results <- process(o) } }()
//   }
//   for _, o := range orders { jobs <- o }
//   close(jobs)                                  // workers' range ends
//   for range orders { processed = append(processed, <-results) }
//
// What it shows: the buffered jobs channel is the queue; the number of
// workers, not the number of jobs, bounds the concurrency; closing the
// queue is how the producer says "no more work", and each worker's
// range-for ends once the queue is drained. Part 2 is article 000's Pool:
// a small queue, so submit() blocks while it is full (back-pressure
// instead of unbounded memory), and shutdown() closes it and waits.
//
// Pitfall avoided: results has room for every job, so no worker can block
// on a send if the collector stops early; the collector receives exactly
// len(orders) results instead of ranging over a channel nobody closes.
// Results arrive in any order: they are sorted before printing.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <vector>

#include "goro/goro.hpp"

struct order {
  int id = 0;
  int quantity = 0;
  int unit_cents = 0;
};
struct result {
  int id = 0;
  int total_cents = 0;
};

static result process(const order& o) {
  goro::sleep_for(std::chrono::milliseconds(1));  // pretend to do I/O
  return {o.id, o.quantity * o.unit_cents};
}

static void worker(goro::recv_chan<order> jobs, goro::send_chan<result> results) {
  for (order o : jobs) results.send(process(o));
}

// Article 000's Pool: submit blocks while the queue is full.
class pool {
 public:
  pool(int workers, int queue_size) : jobs_(goro::make_chan<std::function<void()>>(queue_size)) {
    for (int i = 0; i < workers; i++)
      wg_.go([jobs = goro::recv_chan<std::function<void()>>(jobs_)]() mutable {
        for (auto job : jobs) job();
      });
  }
  void submit(std::function<void()> job) { jobs_.send(std::move(job)); }  // back-pressure
  int64_t queued() const { return jobs_.len(); }
  void shutdown() {
    jobs_.close();  // workers exit when the queue is drained
    wg_.wait();
  }

 private:
  goro::chan<std::function<void()>> jobs_;
  goro::wait_group wg_;
};

int main() {
  return goro::run([] {
    std::vector<order> orders;
    for (int i = 1; i <= 12; i++) orders.push_back({i, i % 5 + 1, 100 * i + 99});

    goro::chan<order> jobs = goro::make_chan<order>(static_cast<int64_t>(orders.size()));
    goro::chan<result> results = goro::make_chan<result>(static_cast<int64_t>(orders.size()));
    for (int w = 0; w < 4; w++) goro::go(worker, jobs, results);
    for (const order& o : orders) jobs.send(o);
    std::printf("queued %zu orders for 4 workers (queue cap %lld)\n", orders.size(),
                static_cast<long long>(jobs.cap()));
    jobs.close();

    std::vector<result> processed;
    for (size_t i = 0; i < orders.size(); i++) processed.push_back(results.recv());
    std::sort(processed.begin(), processed.end(), [](const result& a, const result& b) { return a.id < b.id; });
    long sum = 0;
    for (const result& r : processed) sum += r.total_cents;
    std::printf("processed %zu orders: #1 = %d.%02d, #12 = %d.%02d, total %ld.%02ld\n", processed.size(),
                processed.front().total_cents / 100, processed.front().total_cents % 100,
                processed.back().total_cents / 100, processed.back().total_cents % 100, sum / 100, sum % 100);

    // Part 2: a pool with a 2-slot queue; submit() waits while it is full.
    pool p(2, 2);
    std::atomic<int> done{0};
    int64_t max_queued = 0;
    for (int i = 0; i < 20; i++) {
      p.submit([&done] {
        goro::sleep_for(std::chrono::milliseconds(1));
        done.fetch_add(1);
      });
      max_queued = std::max(max_queued, p.queued());
    }
    p.shutdown();
    std::printf("pool: %d jobs done by 2 workers, queue never above %lld (submit blocked instead)\n", done.load(),
                static_cast<long long>(max_queued));
  });
}
