/** `warden agent --config FILE`: runs the agent until SIGINT/SIGTERM. */
import { startAgent } from '../../agent/agent.js';
import { loadConfig } from '../../config/load.js';
import { isWardenError } from '../../errors.js';
import { createLogger } from '../../observe/logger.js';
import { parse, required, type Command } from '../command.js';
import { summaryOf } from '../registry.js';

export const agentCommand: Command = {
  name: 'agent',
  summary: summaryOf('agent'),
  usage: 'warden agent --config FILE',
  async run(argv, io) {
    const { values } = parse(argv, { config: { type: 'string', short: 'c' } }, 0);
    if (values.help) {
      io.out(
        `usage: ${this.usage}\n\n${this.summary}.\nExits non-zero with one coded line when the configuration is invalid or no valid pack can be had at start.`,
      );
      return 0;
    }
    const config = await loadConfig(required(values.config, 'config'));
    const log = createLogger(config.log_level);
    // Handlers go in before anything is printed: until a listener exists, SIGTERM kills the process outright.
    // A signal during boot aborts it at once (no waiting on a source); after boot it starts a graceful stop.
    const booting = new AbortController();
    const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
      // The first signal starts a graceful stop; a second one exits at once.
      const stop = (signal: NodeJS.Signals): void => {
        process.once(signal, () => process.exit(130));
        booting.abort();
        resolve(signal);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    let agent;
    try {
      agent = await startAgent(config, log, undefined, { signal: booting.signal });
    } catch (err) {
      if (!isWardenError(err, 'BOOT_INTERRUPTED')) throw err;
      log.info({ signal: await stopRequested }, 'stopped while starting');
      return 0;
    }
    io.out(`warden agent listening on ${agent.url} (packs: ${agent.packs.map((p) => p.config.name).join(', ')})`);
    log.info({ signal: await stopRequested }, 'stopping');
    await agent.close();
    return 0;
  },
};
