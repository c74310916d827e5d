// The domain of the worked example: pure decide/evolve, no Nest, no database (STYLE.md).
import { z } from 'zod';
import { defineEvent, EventRegistry, NewEvent, newEvent } from '@fleetledger/contracts';

export const AccountOpened = defineEvent({
  type: 'AccountOpened',
  schema: z.object({ accountId: z.string(), owner: z.string() }),
});
export const DepositMade = defineEvent({
  type: 'DepositMade',
  schema: z.object({ accountId: z.string(), amountMinor: z.number().int().positive() }),
});
export const exampleRegistry = new EventRegistry([AccountOpened, DepositMade]);

export interface AccountState {
  opened: boolean;
  balanceMinor: number;
}
export const initialAccount: AccountState = { opened: false, balanceMinor: 0 };

export type AccountCommand =
  | { kind: 'open'; accountId: string; owner: string; at: string }
  | { kind: 'deposit'; accountId: string; amountMinor: number; at: string };

export type Rejection = { kind: 'rejected'; reason: 'already-open' | 'not-open'; detail: string };

export function decide(state: AccountState, command: AccountCommand): NewEvent[] | Rejection {
  switch (command.kind) {
    case 'open':
      if (state.opened)
        return { kind: 'rejected', reason: 'already-open', detail: `account ${command.accountId} exists` };
      return [newEvent(AccountOpened, { accountId: command.accountId, owner: command.owner }, command.at)];
    case 'deposit':
      if (!state.opened)
        return { kind: 'rejected', reason: 'not-open', detail: `account ${command.accountId} is not open` };
      return [
        newEvent(DepositMade, { accountId: command.accountId, amountMinor: command.amountMinor }, command.at),
      ];
  }
}

export function evolve(state: AccountState, event: { type: string; payload: unknown }): AccountState {
  switch (event.type) {
    case AccountOpened.type:
      return { ...state, opened: true };
    case DepositMade.type:
      return {
        ...state,
        balanceMinor: state.balanceMinor + (event.payload as { amountMinor: number }).amountMinor,
      };
    default:
      return state;
  }
}
