/*
 * Main.java - the Java clients' cases against one sluiced (the driver,
 * tests/compat/java/run_java.py, starts it and sets SLUICE_BOOTSTRAP).
 */
package sluice.compat;

public final class Main {
    public static void main(String[] args) {
        Cases cs = new Cases();
        ProducerCases.register(cs);
        GroupCases.register(cs);
        AdminCases.register(cs);
        System.exit(cs.runAll());
    }
}
