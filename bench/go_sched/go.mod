module goro.bench/sched

go 1.19
