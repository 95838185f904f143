import type { EndpointId } from '../call.js';
import { chatOverMessages } from './chat-over-messages.js';
import { messagesOverChat } from './messages-over-chat.js';
import type { Translation } from './translation.js';

/** The translation a client endpoint needs on an upstream endpoint; undefined when they speak the same protocol. */
export function translationFor(client: EndpointId, upstream: EndpointId): Translation | undefined {
  if (client === 'chat' && upstream === 'messages') return chatOverMessages;
  if (client === 'messages' && upstream === 'chat') return messagesOverChat;
  return undefined;
}
