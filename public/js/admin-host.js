// Host page: the "Test connection" button logs in over SSH (through jump hosts) and pins an unknown host key.
import { t, testButton } from './lib/ui.js';

testButton('test-host', 'host-test-result', t('Connecting…'), {
  lines: (result) => [result.message, result.fingerprint ? t('Host key: {{fingerprint}}', { fingerprint: result.fingerprint }) : ''],
  after: (result) => {
    const label = document.getElementById('pinned-fingerprint');
    if (label && result.pinned && result.pinned.length && result.fingerprint) label.textContent = t('{{fingerprint}} (just pinned; reload to edit)', { fingerprint: result.fingerprint });
  },
});
