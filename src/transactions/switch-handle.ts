/** `tx.switch(name)`: a staged handle on a running (or staged) BMv2 switch. */
import type { SwitchStaging } from './switch-staging.js';

export class SwitchHandle {
  constructor(
    private readonly staging: SwitchStaging,
    readonly name: string,
    private readonly netns: string | undefined,
    private readonly live: () => void,
  ) {}

  /** Stops it in the commit (SIGTERM, then SIGKILL) and removes its record; a rollback starts it again. */
  remove(): this {
    this.live();
    this.staging.remove(this.name, this.netns);
    return this;
  }
}
