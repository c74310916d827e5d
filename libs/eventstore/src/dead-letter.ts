import { KafkaMessage, Producer } from 'kafkajs';
import { DeadLetterHeaders, deadLetterTopic } from '@fleetledger/contracts';

export interface DeadLetter {
  topic: string;
  partition: number;
  message: KafkaMessage;
  reason: string;
  detail: string;
}

/**
 * Moves a record that cannot be processed to `<topic>.dlq`, unchanged, with why in its headers.
 * The send is awaited: the consumer commits its offset only after the dead letter is safely stored.
 */
export class DeadLetterPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly consumerName: string,
  ) {}

  async publish(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const byTopic = new Map<string, DeadLetter[]>();
    for (const letter of letters) byTopic.set(letter.topic, [...(byTopic.get(letter.topic) ?? []), letter]);
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, topicLetters]) => ({
        topic: deadLetterTopic(topic),
        messages: topicLetters.map((letter) => ({
          key: letter.message.key,
          value: letter.message.value,
          headers: {
            ...letter.message.headers,
            [DeadLetterHeaders.reason]: letter.reason,
            [DeadLetterHeaders.detail]: letter.detail.slice(0, 2000),
            [DeadLetterHeaders.originalTopic]: letter.topic,
            [DeadLetterHeaders.originalPartition]: String(letter.partition),
            [DeadLetterHeaders.originalOffset]: letter.message.offset,
            [DeadLetterHeaders.consumer]: this.consumerName,
            [DeadLetterHeaders.failedAt]: new Date().toISOString(),
          },
        })),
      })),
    });
  }
}
