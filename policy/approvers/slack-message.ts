/**
 * Block Kit for one pending approval: who asks, what, why the rule holds it, the request itself
 * (statement / command / request line in a code block), any earlier judge's opinion, and
 * Approve/Deny buttons carrying the approval id. The same builder renders progress and the
 * final state, so every outcome edits the original message (chat.update).
 */
import type { PendingView } from './pending.js';
import { renderMessage } from './message-template.js';
import { codeBlock, escapeMrkdwn, escapeTruncated, joinNames, mention, plainTruncated } from './slack-text.js';

export const APPROVE_ACTION = 'bailiff_approve';
export const DENY_ACTION = 'bailiff_deny';
export const ACTIONS_BLOCK = 'bailiff_approval_actions';

/** Slack limits: section text 3000, header 150, field 2000. Leave room for the labels. */
const REQUEST_CODE_CHARS = 2800;
const FIELD_CHARS = 300;
const REASON_CHARS = 1000;

export type Block = Record<string, unknown>;

export interface SlackMessage {
  text: string;
  blocks: Block[];
}

export interface MessageOptions {
  /** The approver's `message` template. */
  template?: string;
}

export function approvalMessage(view: PendingView, options: MessageOptions = {}): SlackMessage {
  const r = view.request;
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: plainTruncated(`Approval needed: ${r.rule} on ${r.endpoint}`, 150) } },
  ];
  if (options.template) {
    blocks.push(section(escapeTruncated(renderMessage(options.template, r), 2900).text));
  }
  blocks.push({
    type: 'section',
    fields: [
      field('Peer', `${r.peer.name} (${r.peer.address})`),
      field('Profile', r.profile),
      field('Endpoint', r.endpoint),
      field('Rule', r.rule),
      ...(r.credential ? [field('Credential', r.credential)] : []),
      field('Approver', view.approver),
    ],
  });
  if (r.reason) blocks.push(section(`*Reason:* ${escapeTruncated(r.reason, REASON_CHARS).text}`));
  blocks.push(section(`*Request*\n${codeBlock(r.summary, REQUEST_CODE_CHARS)}`));
  for (const opinion of view.earlier) {
    blocks.push(section(`*${escapeMrkdwn(opinion.name)}* said *${escapeMrkdwn(opinion.verdict)}*: ${escapeTruncated(opinion.reason, REASON_CHARS).text}`));
  }
  if (view.state === 'pending') {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: progressLine(view) }] });
    blocks.push({
      type: 'actions',
      block_id: ACTIONS_BLOCK,
      elements: [
        { type: 'button', action_id: APPROVE_ACTION, style: 'primary', value: view.id, text: { type: 'plain_text', text: 'Approve' } },
        { type: 'button', action_id: DENY_ACTION, style: 'danger', value: view.id, text: { type: 'plain_text', text: 'Deny' } },
      ],
    });
  } else {
    blocks.push(section(outcomeLine(view)));
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `id \`${view.id}\` · \`bailiff approve ${view.id}\`` }] });
  const status = view.state === 'pending' ? 'Approval needed' : `Approval ${view.state.replace('_', ' ')}`;
  return { text: escapeMrkdwn(plainTruncated(`${status}: ${r.rule} on ${r.endpoint} for ${r.peer.name}`, 300)), blocks };
}

function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

function field(label: string, value: string): Block {
  return { type: 'mrkdwn', text: `*${label}*\n${escapeTruncated(value, FIELD_CHARS).text}` };
}

function progressLine(view: PendingView): string {
  const who = view.allowedVoters.length > 0 ? `from ${joinNames(view.allowedVoters.map(mention))}` : 'from anyone in this channel';
  const needed = view.requireApprovers === 1 ? 'Needs 1 approval' : `Needs ${view.requireApprovers} approvals from different people`;
  const expires = Math.floor(view.expiresAt / 1000);
  const so = view.approvals.length > 0
    ? ` · approved so far by ${joinNames(view.approvals.map((v) => mention(v.by)))} (${view.approvals.length} of ${view.requireApprovers})`
    : '';
  return `${needed} ${who} · expires <!date^${expires}^{time}|${new Date(view.expiresAt).toISOString()}>${so}`;
}

/** The line that replaces the buttons once the approval is over. */
export function outcomeLine(view: PendingView): string {
  const people = view.decidedVia === 'slack' ? joinNames(view.decidedBy.map(mention)) : joinNames(view.decidedBy.map((b) => `\`${escapeMrkdwn(b)}\``));
  const via = view.decidedVia === 'api' ? ' from the CLI/dashboard' : '';
  const reason = view.reason ? `: ${escapeTruncated(view.reason, REASON_CHARS).text}` : '';
  switch (view.state) {
    case 'approved':
      return `:white_check_mark: *Approved*${via} by ${people}.`;
    case 'denied':
      return `:no_entry: *Denied*${via} by ${people}${reason}`;
    case 'timed_out':
      return ':hourglass: *Timed out*: nobody decided in time. The request was denied and not sent upstream.';
    case 'cancelled':
      return view.reason === 'agent disconnected'
        ? ':electric_plug: *Agent disconnected*: the request was cancelled and not sent upstream.'
        : `:heavy_multiplication_x: *Cancelled*${reason}. The request was not sent upstream.`;
    default:
      return '';
  }
}
