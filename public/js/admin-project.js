// Project page: the "Test SVN" button asks the server to read the repository with the saved settings.
import { t, testButton } from './lib/ui.js';

testButton('test-svn', 'svn-test-result', t('Testing the saved SVN settings…'));
