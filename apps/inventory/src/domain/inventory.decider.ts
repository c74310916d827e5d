import { inventory } from '@fleetledger/contracts';
import type { Decider } from '@fleetledger/eventstore/decider';
import { InventoryCommand } from './commands';
import { decide } from './decide';
import { evolve } from './evolve';
import { emptyFleet, Fleet } from './fleet';
import { RejectionReason } from './rejection';

/**
 * The inventory's rules as one Decider (libs/eventstore): `decide` answers a command on a fleet, `evolve`
 * applies an event to it. The command handler decides on a slice of the fleet read model (the places a
 * command names and those above and below it), which `evolve` keeps current between the commands of a batch.
 */
export const inventoryDecider: Decider<Fleet, InventoryCommand, inventory.InventoryEvent, RejectionReason> = {
  initialState: emptyFleet,
  evolve,
  decide,
};
