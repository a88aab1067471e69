// Upload bars of a job: each host's bytes sent of the package with its rate, and the job's overall bars (hosts done,
// bytes sent to all hosts). job-progress.js feeds them from the SSE snapshot (hosts[].upload) and `progress` events.
import { t } from './i18n.js';

/** '980 KB', '12.4 MB', '1.2 GB': one decimal, so a moving count reads as moving. */
export function fmtBytes(bytes) {
  const n = Math.max(0, Number(bytes) || 0);
  if (n < 1024 * 1024) return Math.max(n ? 1 : 0, Math.round(n / 1024)) + ' KB';
  if (n < 1024 * 1024 * 1024) return (n / 1024 / 1024).toFixed(1) + ' MB';
  return (n / 1024 / 1024 / 1024).toFixed(2) + ' GB';
}

/** Whole percent, 100 only once everything is sent. */
export function percentOf(sent, total) {
  if (!(total > 0)) return 0;
  return sent >= total ? 100 : Math.min(99, Math.floor((sent * 100) / total));
}

/** '12.4 MB of 31.9 MB · 8.1 MB/s', and where the bytes go when it is a relay's copy. */
export function uploadText(upload) {
  const rate = upload.rate > 0 ? ' · ' + fmtBytes(upload.rate) + '/s' : '';
  const relay = upload.relay ? ' ' + t('(to relay {{relay}})', { relay: upload.relay }) : '';
  return t('{{sent}} of {{total}}', { sent: fmtBytes(upload.sent), total: fmtBytes(upload.total) }) + rate + relay;
}

/**
 * The overall numbers from every host's { status, upload }: hosts finished (succeeded or failed) of all, and bytes
 * sent of all bytes. A host whose upload has not started counts the package size seen on the others (sent only when
 * it succeeded), so the total does not jump as hosts start.
 */
export function overallUpload(hosts) {
  const size = Math.max(0, ...hosts.map((h) => (h.upload ? h.upload.total : 0)));
  let finished = 0, sent = 0, total = 0;
  for (const h of hosts) {
    if (h.status === 'succeeded' || h.status === 'failed') finished++;
    if (h.upload) {
      sent += Math.min(h.upload.sent, h.upload.total);
      total += h.upload.total;
    } else if (h.status !== 'skipped') {
      total += size;
      if (h.status === 'succeeded') sent += size;
    }
  }
  return { finished, hosts: hosts.length, sent, total };
}

/** Sets a Bootstrap progress element (the one with role=progressbar) to a percent. */
export function setBar(progress, percent, text) {
  progress.setAttribute('aria-valuenow', String(percent));
  if (text) progress.setAttribute('aria-valuetext', text);
  const bar = progress.querySelector('.progress-bar');
  bar.style.width = percent + '%';
  bar.classList.toggle('progress-bar-striped', percent < 100);
  bar.classList.toggle('progress-bar-animated', percent < 100);
}

/** Shows a host row's upload bar and its text. */
export function showHostUpload(tr, upload) {
  const box = tr.querySelector('.host-upload');
  if (!box) return;
  box.classList.remove('d-none');
  const text = uploadText(upload);
  const progress = box.querySelector('.progress');
  progress.setAttribute('aria-label', t('Upload to {{host}}', { host: tr.getAttribute('data-host') }));
  setBar(progress, percentOf(upload.sent, upload.total), text);
  box.querySelector('.host-upload-text').textContent = text;
}

/** Updates the overall bars (in `root`'s .job-overall) from every host's { status, upload }. */
export function showOverall(root, hosts) {
  const box = root.querySelector('.job-overall');
  if (!box) return;
  box.classList.remove('d-none');
  const o = overallUpload(hosts);
  const hostsText = t('{{finished}} of {{total}} host(s) finished', { finished: o.finished, total: o.hosts });
  setBar(box.querySelector('.job-overall-hosts'), percentOf(o.finished, o.hosts), hostsText);
  box.querySelector('.job-overall-hosts-text').textContent = hostsText;
  if (o.total > 0) {
    const bytesText = t('{{sent}} of {{total}} sent', { sent: fmtBytes(o.sent), total: fmtBytes(o.total) });
    box.querySelector('.job-overall-bytes-box').classList.remove('d-none');
    setBar(box.querySelector('.job-overall-bytes'), percentOf(o.sent, o.total), bytesText);
    box.querySelector('.job-overall-bytes-text').textContent = bytesText;
  }
}
