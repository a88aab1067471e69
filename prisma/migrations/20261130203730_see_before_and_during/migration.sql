-- CreateTable
CREATE TABLE "HostFile" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "projectId" INTEGER NOT NULL,
    "hostId" INTEGER NOT NULL,
    "path" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "jobId" INTEGER NOT NULL,
    "revision" INTEGER,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "HostFile_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "HostFile_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_JobHost" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "jobId" INTEGER NOT NULL,
    "hostId" INTEGER,
    "hostName" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "phase" TEXT NOT NULL DEFAULT 'queued',
    "snapshotTaken" BOOLEAN NOT NULL DEFAULT false,
    "wave" INTEGER NOT NULL DEFAULT 0,
    "gate" TEXT NOT NULL DEFAULT '',
    "timeline" TEXT NOT NULL DEFAULT '',
    "drift" TEXT NOT NULL DEFAULT '',
    "rolledBackByJobId" INTEGER,
    "exitCode" INTEGER,
    "error" TEXT,
    "output" TEXT NOT NULL DEFAULT '',
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "JobHost_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "Job" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "JobHost_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_JobHost" ("error", "exitCode", "finishedAt", "gate", "hostId", "hostName", "id", "jobId", "output", "phase", "rolledBackByJobId", "snapshotTaken", "startedAt", "status", "wave") SELECT "error", "exitCode", "finishedAt", "gate", "hostId", "hostName", "id", "jobId", "output", "phase", "rolledBackByJobId", "snapshotTaken", "startedAt", "status", "wave" FROM "JobHost";
DROP TABLE "JobHost";
ALTER TABLE "new_JobHost" RENAME TO "JobHost";
CREATE INDEX "JobHost_hostId_idx" ON "JobHost"("hostId");
CREATE UNIQUE INDEX "JobHost_jobId_hostName_key" ON "JobHost"("jobId", "hostName");
CREATE TABLE "new_User" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "locale" TEXT NOT NULL DEFAULT '',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);
INSERT INTO "new_User" ("createdAt", "disabled", "id", "name", "passwordHash", "role", "updatedAt") SELECT "createdAt", "disabled", "id", "name", "passwordHash", "role", "updatedAt" FROM "User";
DROP TABLE "User";
ALTER TABLE "new_User" RENAME TO "User";
CREATE UNIQUE INDEX "User_name_key" ON "User"("name");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "HostFile_hostId_idx" ON "HostFile"("hostId");

-- CreateIndex
CREATE UNIQUE INDEX "HostFile_projectId_hostId_path_key" ON "HostFile"("projectId", "hostId", "path");
