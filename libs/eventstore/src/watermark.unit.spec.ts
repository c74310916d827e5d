import { Partitioners } from 'kafkajs';
import { partitionStreamIds } from './watermark';

describe('watermark markers reach every partition through their key', () => {
  it.each([1, 3, 6])(
    'with %i partitions, the stream id of partition p is a key the producer sends to p',
    (partitions) => {
      const partitioner = Partitioners.DefaultPartitioner();
      const ids = partitionStreamIds('allocation', partitions);
      expect(new Set(ids).size).toBe(partitions);
      const partitionMetadata = ids.map((_, partitionId) => ({
        partitionId,
        leader: 0,
        replicas: [0],
        isr: [0],
        partitionErrorCode: 0,
        offlineReplicas: [],
      }));
      ids.forEach((key, p) =>
        expect(partitioner({ topic: 't', partitionMetadata, message: { key, value: null } })).toBe(p),
      );
    },
  );

  it('is deterministic: every replica and restart computes the same ids', () => {
    expect(partitionStreamIds('metering', 3)).toEqual(partitionStreamIds('metering', 3));
    expect(partitionStreamIds('metering', 3)[0]).toMatch(/^metering-watermark-p0/);
  });
});
