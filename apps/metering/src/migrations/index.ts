import { EventStoreMetering1764000000000 } from './1764000000000-event-store';
import { MeteringTables1764000000100 } from './1764000000100-metering-tables';
import { PlacementGpus1764000000200 } from './1764000000200-placement-gpus';
import { PartitionSamples1764000000300 } from './1764000000300-partition-samples';
import { FleetCapacity1764000000400 } from './1764000000400-fleet-capacity';
import { SampleIndexLocality1764000000500 } from './1764000000500-sample-index-locality';
import { AppendOnlySampleIndexes1764000000600 } from './1764000000600-append-only-sample-indexes';
import { SealEventLogMetering1765000000000 } from './1765000000000-seal-event-log';
import { InputWatermarks1766100000000 } from './1766100000000-input-watermarks';

/** Every migration of the metering schema, oldest first. Never edit one that has shipped: add a new one. */
export const meteringMigrations = [
  EventStoreMetering1764000000000,
  MeteringTables1764000000100,
  PlacementGpus1764000000200,
  PartitionSamples1764000000300,
  FleetCapacity1764000000400,
  SampleIndexLocality1764000000500,
  AppendOnlySampleIndexes1764000000600,
  SealEventLogMetering1765000000000,
  InputWatermarks1766100000000,
];
