// Preloaded with `node --import` by modules.ts: prints the process's RSS and heap in use when it exits.
process.on("exit", () => {
  const usage = process.memoryUsage()
  process.stderr.write(`BENCH_RSS ${usage.rss} ${usage.heapUsed}\n`)
})
