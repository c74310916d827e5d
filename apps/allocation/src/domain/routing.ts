import { allocation, NewEvent, newEvent } from '@fleetledger/contracts';
import { reject, Rejection } from './rejection';

type Routes = allocation.Routes;

/** DESIGN.md section 1: heavy inference to GB200, agentic to H200, batch training to H100. */
export const DEFAULT_ROUTES: Routes = {
  inference: ['GB200', 'H200', 'H100'],
  agentic: ['H200', 'GB200', 'H100'],
  training: ['H100', 'H200', 'GB200'],
};

export interface ChangeRoutes {
  routes: Routes;
  reason: string;
  author: string;
  at: string;
}

export function decideRoutingChange(
  current: Routes,
  command: ChangeRoutes,
): NewEvent[] | Rejection<'invalid' | 'unchanged'> {
  for (const [workloadClass, classes] of Object.entries(command.routes)) {
    if (classes.length === 0) return reject('invalid', `${workloadClass} routes to no GPU class`);
    if (new Set(classes).size !== classes.length)
      return reject('invalid', `${workloadClass} lists a GPU class twice`);
  }
  if (JSON.stringify(current) === JSON.stringify(command.routes))
    return reject('unchanged', 'the routing policy is already this one');
  return [
    newEvent(
      allocation.RoutingPolicyChanged,
      {
        routes: command.routes,
        previous: current,
        changedAt: command.at,
        reason: command.reason,
        author: command.author,
      },
      command.at,
    ),
  ];
}

export function evolveRoutes(current: Routes, event: allocation.AllocationEvent): Routes {
  if (event.type !== allocation.RoutingPolicyChanged.type) return current;
  return event.payload.routes;
}
