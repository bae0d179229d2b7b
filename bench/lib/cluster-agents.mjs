// A prototype, not a product mode: N `warden agent` processes as node:cluster workers sharing one
// listening port (the primary accepts and hands connections round-robin), each a whole agent with
// its own configuration and data_dir. bench/cluster-prototype.bench.ts measures what serving HTTP
// from several processes would give. Usage: node bench/lib/cluster-agents.mjs CONFIG...
// (every config listens on the same host:port). Prints "warden agent listening on URL" once all listen.
import cluster from 'node:cluster';

const configs = process.argv.slice(2);
if (cluster.isPrimary) {
  if (configs.length === 0) throw new Error('usage: cluster-agents.mjs CONFIG...');
  for (const config of configs) cluster.fork({ WARDEN_CLUSTER_CONFIG: config });
  let listening = 0;
  cluster.on('listening', (_worker, address) => {
    listening += 1;
    if (listening === configs.length)
      process.stdout.write(`warden agent listening on http://127.0.0.1:${address.port}\n`);
  });
  cluster.on('exit', (worker, code) => {
    process.stderr.write(`cluster agent ${worker.id} exited (${code})\n`);
  });
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    cluster.disconnect(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const { main } = await import(new URL('../../dist/cli/main.js', import.meta.url).href);
  process.exitCode = await main(['agent', '--config', process.env.WARDEN_CLUSTER_CONFIG ?? '']);
}
