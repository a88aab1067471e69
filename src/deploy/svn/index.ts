// The engine's Subversion client: `svn` through execFile, the password on stdin (see client.ts).
export { checkRevision, SvnClient } from './client.ts';
export { SvnError, svnErrorFromStderr, type SvnErrorKind } from './errors.ts';
export { parseInfoXml, parseListXml, parseLogXml, parseXml, projectRelative } from './xml.ts';
export type { SvnChangedPath, SvnClientOptions, SvnDirEntry, SvnInfo, SvnLogEntry, SvnRepository, SvnRevision } from './types.ts';
