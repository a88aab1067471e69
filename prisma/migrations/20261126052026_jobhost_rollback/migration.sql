-- AlterTable
ALTER TABLE "JobHost" ADD COLUMN "rolledBackByJobId" INTEGER;
